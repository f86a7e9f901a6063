Feature: Premises (PRM)
  Sharing, or sitting next to, military premises can make an office a target and ties the
  organisation to that force (CATALOG.md §4.6, PRM-001). Co-location should be a short exception,
  decided and written down. The minimum distance to military premises is not in the guidance:
  only a country's guidance sets it.

  Scenario: An agency office inside the mission's compound where the mission is seen as a party
    Given an operation in SOM
    And the organisation is org-7, a un_agency
    And the events happen in area SO-BN
    When a premises change is recorded:
      | field              | value            |
      | premises.type      | office           |
      | inside_compound_of | mission_military |
      | planned_end        | +90 days         |
    Then PRM-001 is raised as critical
    And the advice of PRM-001 mentions "Co-location should be a short exception"
    And the explanation of PRM-001 mentions "inside_compound_of"

  Scenario: The same office inside the mission's compound, in an area where the mission is not seen as a party
    Given an operation in SOM
    And the organisation is org-7, a un_agency
    And the events happen in area SO-SA
    When a premises change is recorded:
      | field              | value            |
      | premises.type      | office           |
      | inside_compound_of | mission_military |
    Then PRM-001 is raised as warning

  Scenario: After a typhoon, a relief warehouse is set up inside an army base
    Given an operation in PHL
    When a premises change is recorded:
      | field              | value             |
      | premises.type      | warehouse         |
      | inside_compound_of | national_military |
    Then PRM-001 is raised as warning

  Scenario: A distribution site inside the mission's camp
    Given an operation in SOM
    And the events happen in area SO-BN
    When a distribution plan is recorded:
      | field                   | value            |
      | site.id                 | dist-bn-09       |
      | site.inside_compound_of | mission_military |
      | actors[1].kind          | ingo             |
      | actors[1].role          | distributing     |
    Then PRM-001 is raised as critical

  Scenario: Staff accommodation closer to a military base than the country guidance allows
    Given an operation in PHL
    And the country guidance sets min_distance_to_military_m to 500
    When a premises change is recorded:
      | field                  | value         |
      | premises.type          | accommodation |
      | inside_compound_of     | none          |
      | distance_to_military_m | 200           |
    Then PRM-001 is raised as warning
    And the explanation of PRM-001 mentions "min_distance_to_military_m"

  Scenario Outline: Near miss - the accommodation keeps the distance the country guidance sets
    Given an operation in PHL
    And the country guidance sets min_distance_to_military_m to 500
    When a premises change is recorded:
      | field                  | value         |
      | premises.type          | accommodation |
      | inside_compound_of     | none          |
      | distance_to_military_m | <distance>    |
    Then PRM-001 is not raised

    Examples:
      | distance |
      | 500      |
      | 1200     |

  Scenario: Near miss - close to a military base, but the country guidance sets no minimum distance
    Given an operation in PHL
    When a premises change is recorded:
      | field                  | value         |
      | premises.type          | accommodation |
      | inside_compound_of     | none          |
      | distance_to_military_m | 200           |
    Then PRM-001 is not raised

  Scenario: Near miss - an office in a UN agencies' common compound
    Given an operation in SOM
    And the events happen in area SO-BN
    When a premises change is recorded:
      | field              | value     |
      | premises.type      | office    |
      | inside_compound_of | un_agency |
    Then PRM-001 is not raised
