Feature: Distribution and direct assistance (DIS)
  Guards from a military force or an armed group at a distribution or an office still count as
  using military assets and make the site look like part of their operation (CATALOG.md §4.5,
  DIS-001). Who receives aid must depend on need alone: lists or conditions set by military or
  political actors break impartiality (DIS-002).

  # DIS-001: armed security by military forces or armed groups at humanitarian sites

  Scenario: Mission soldiers guard a food distribution where the mission is seen as a party
    Given an operation in SOM
    And the events happen in area SO-BN
    When a distribution plan is recorded:
      | field               | value            |
      | site.id             | dist-bn-07       |
      | date                | +3 days          |
      | actors[1].kind      | ingo             |
      | actors[1].role      | distributing     |
      | actors[2].kind      | mission_military |
      | actors[2].role      | security         |
      | actors[2].armed     | yes              |
      | actors[2].uniformed | yes              |
    Then DIS-001 is raised as critical
    And the advice of DIS-001 mentions "still count as using military assets"
    And the explanation of DIS-001 mentions "seen as, a party to the conflict"
    And the explanation of DIS-001 mentions "security"

  Scenario: After a typhoon, national soldiers keep order at a distribution
    Given an operation in PHL
    When a distribution plan is recorded:
      | field           | value             |
      | site.id         | dist-tac-02       |
      | actors[1].kind  | un_agency         |
      | actors[1].role  | distributing      |
      | actors[2].kind  | national_military |
      | actors[2].role  | security          |
      | actors[2].armed | yes               |
    Then DIS-001 is raised as warning

  Scenario Outline: Armed guards at the organisation's office, where nothing is known of the context
    Given an operation with no context profile
    When a premises change is recorded:
      | field                  | value    |
      | premises.type          | office   |
      | inside_compound_of     | none     |
      | guarding.provider_kind | <guards> |
      | guarding.armed         | yes      |
    Then DIS-001 is raised as warning
    And DIS-001 says the context was unknown

    Examples:
      | guards            |
      | national_military |
      | foreign_military  |
      | militia           |
      | nsag              |

  Scenario: Near miss - soldiers only drive the trucks to the distribution site
    Given an operation in SOM
    And the events happen in area SO-BN
    When a distribution plan is recorded:
      | field           | value            |
      | site.id         | dist-bn-07       |
      | actors[1].kind  | ingo             |
      | actors[1].role  | distributing     |
      | actors[2].kind  | mission_military |
      | actors[2].role  | logistics        |
      | actors[2].armed | yes              |
    Then DIS-001 is not raised

  Scenario: Near miss - the police keep order at the distribution
    Given an operation in SOM
    And the events happen in area SO-BN
    When a distribution plan is recorded:
      | field           | value           |
      | site.id         | dist-bn-07      |
      | actors[1].kind  | ingo            |
      | actors[1].role  | distributing    |
      | actors[2].kind  | national_police |
      | actors[2].role  | security        |
      | actors[2].armed | yes             |
    Then DIS-001 is not raised

  Scenario: Near miss - the soldiers posted at the warehouse are unarmed
    Given an operation in PHL
    When a premises change is recorded:
      | field                  | value             |
      | premises.type          | warehouse         |
      | inside_compound_of     | none              |
      | guarding.provider_kind | national_military |
      | guarding.armed         | no                |
    Then DIS-001 is not raised

  # DIS-002: beneficiary selection or conditions set by military or political actors

  Scenario Outline: Who receives aid is decided by military or political actors
    Given an operation in SOM
    And the events happen in area SO-BN
    When a distribution plan is recorded:
      | field          | value        |
      | site.id        | dist-bn-07   |
      | actors[1].kind | ingo         |
      | actors[1].role | distributing |
      | <field>        | <value>      |
    Then DIS-002 is raised as critical
    And the advice of DIS-002 mentions "need alone"

    Examples:
      | field                                  | value                   |
      | beneficiary_selection.by_kind          | mission_political       |
      | beneficiary_selection.by_kind          | national_military       |
      | beneficiary_selection.list_source_kind | mission_military        |
      | beneficiary_selection.list_source_kind | militia                 |
      | beneficiary_selection.conditions       | cooperation_with_forces |
      | beneficiary_selection.conditions       | information_provision   |
      | beneficiary_selection.conditions       | political_affiliation   |

  Scenario: A beneficiary list from the army after a typhoon is still critical
    Given an operation in PHL
    When a distribution plan is recorded:
      | field                                  | value             |
      | site.id                                | dist-tac-02       |
      | beneficiary_selection.by_kind          | un_agency         |
      | beneficiary_selection.list_source_kind | national_military |
    Then DIS-002 is raised as critical

  Scenario: Near miss - the organisation selects households on need with the community
    Given an operation in SOM
    And the events happen in area SO-BN
    When a distribution plan is recorded:
      | field                                  | value                                       |
      | site.id                                | dist-bn-07                                  |
      | beneficiary_selection.by_kind          | ingo                                        |
      | beneficiary_selection.list_source_kind | ingo                                        |
      | beneficiary_selection.conditions       | female_headed_household, acute_malnutrition |
    Then DIS-002 is not raised

  Scenario: Near miss - the mission only observes the distribution
    Given an operation in SOM
    And the events happen in area SO-BN
    When a distribution plan is recorded:
      | field                         | value             |
      | site.id                       | dist-bn-07        |
      | actors[1].kind                | ingo              |
      | actors[1].role                | distributing      |
      | actors[2].kind                | mission_political |
      | actors[2].role                | observer          |
      | beneficiary_selection.by_kind | ingo              |
    Then DIS-002 is not raised
