Feature: Incidents and correlation (INC)
  An attack, a threat or an abduction that follows an organisation's recent travel with a
  mission escort, use of a military asset, joint visit or shared premises may have something to
  do with that association (CATALOG.md §4.11, INC-001): the incident analysis should say so, and
  the escort or asset review should come early. A public statement that ties the UN or an
  organisation to one side (as when Al Shabaab declared the UN illegitimate after UN support to
  AMISOM, in the seed article) calls for a pause in non-essential links with the mission and for
  outreach (INC-002).

  # INC-001: incident following recent association with the mission or an escort

  Scenario: An NGO's convoy is attacked two weeks after it travelled under a mission escort
    Given an operation in SOM
    And the events happen in area SO-BN
    And the organisation is ingo-horn-relief, an ingo
    And an escort request "esc-hr-1" is recorded:
      | field           | value            |
      | armed           | yes              |
      | provider.kind   | mission_military |
      | route.id        | MGQ-CGD          |
      | decision.status | approved         |
    And 14 days pass
    And the organisation is ocha-som, an ocha
    When an incident report is recorded:
      | field             | value                                     |
      | type              | attack                                    |
      | perpetrator_kind  | nsag                                      |
      | target.org_id     | ingo-horn-relief                          |
      | target.asset      | truck                                     |
      | association_cited | the convoy had travelled with the mission |
    Then INC-001 is raised as warning
    And the advice of INC-001 mentions "incident analysis"
    And the explanation of INC-001 mentions "target.org_id"
    And INC-002 is not raised

  Scenario Outline: An abduction <days> days after the escort was approved
    Given an operation in SOM
    And the events happen in area SO-BN
    And an escort request is recorded:
      | field           | value            |
      | armed           | yes              |
      | provider.kind   | mission_military |
      | decision.status | approved         |
    And <days> days pass
    When an incident report is recorded:
      | field         | value     |
      | type          | abduction |
      | target.org_id | org-1     |
    Then INC-001 is raised as warning

    Examples:
      | days |
      | 1    |
      | 29   |
      | 30   |

  Scenario: An abduction 31 days after the escort was approved is outside the lookback
    Given an operation in SOM
    And the events happen in area SO-BN
    And an escort request is recorded:
      | field           | value            |
      | armed           | yes              |
      | provider.kind   | mission_military |
      | decision.status | approved         |
    And 31 days pass
    When an incident report is recorded:
      | field         | value     |
      | type          | abduction |
      | target.org_id | org-1     |
    Then INC-001 is not raised

  Scenario Outline: A threat after <association>
    Given an operation in SOM
    And the events happen in area SO-BN
    And <event> is recorded:
      | field    | value    |
      | <field1> | <value1> |
      | <field2> | <value2> |
    And 10 days pass
    When an incident report is recorded:
      | field         | value  |
      | type          | threat |
      | target.org_id | org-1  |
    Then INC-001 is raised as warning

    Examples:
      | association                        | event              | field1                  | value1            | field2                 | value2           |
      | a flight on a mission helicopter   | an asset request   | asset.owner_kind        | mission_military  | asset.kind             | helicopter       |
      | a trip in a national army truck    | a movement request | transport_provider.kind | national_military | status                 | completed        |
      | a trip in a military convoy        | a movement request | joins_convoy_of         | national_military | status                 | completed        |
      | an escorted trip                   | a movement request | escort.requested        | yes               | status                 | completed        |
      | a joint visit with the mission     | a meeting          | purpose                 | joint_visit       | accompanied_by[1].kind | mission_military |
      | moving into the mission's compound | a premises change  | premises.type           | office            | inside_compound_of     | mission_civilian |
      | a joint press release              | a publication      | type                    | press_release     | co_authors[1].kind     | mission_military |

  Scenario: Another organisation is attacked after this one travelled under escort
    Given an operation in SOM
    And the events happen in area SO-BN
    And the organisation is ingo-horn-relief, an ingo
    And an escort request is recorded:
      | field           | value            |
      | armed           | yes              |
      | provider.kind   | mission_military |
      | decision.status | approved         |
    And 14 days pass
    When an incident report is recorded:
      | field         | value             |
      | type          | attack            |
      | target.org_id | nngo-sanaag-water |
    Then INC-001 is not raised

  Scenario: The organisation is attacked in another area than the one where it used the escort
    Given an operation in SOM
    And the events happen in area SO-BN
    And an escort request is recorded:
      | field           | value            |
      | armed           | yes              |
      | provider.kind   | mission_military |
      | decision.status | approved         |
    And 14 days pass
    And the events happen in area SO-SA
    When an incident report is recorded:
      | field         | value  |
      | type          | attack |
      | target.org_id | org-1  |
    Then INC-001 is not raised

  Scenario: The escort was asked for but refused
    Given an operation in SOM
    And the events happen in area SO-BN
    And an escort request is recorded:
      | field           | value            |
      | armed           | yes              |
      | provider.kind   | mission_military |
      | decision.status | rejected         |
    And 14 days pass
    When an incident report is recorded:
      | field         | value  |
      | type          | attack |
      | target.org_id | org-1  |
    Then INC-001 is not raised

  Scenario: A checkpoint denial after an escorted trip is not an attack on the organisation
    Given an operation in SOM
    And the events happen in area SO-BN
    And an escort request is recorded:
      | field           | value            |
      | armed           | yes              |
      | provider.kind   | mission_military |
      | decision.status | approved         |
    And 14 days pass
    When an incident report is recorded:
      | field         | value             |
      | type          | checkpoint_denial |
      | target.org_id | org-1             |
    Then INC-001 is not raised

  Scenario: A convoy is looted further down the road it travelled under escort
    Given an operation in SOM
    And the events happen in area SO-BN
    And an escort request is recorded:
      | field           | value            |
      | armed           | yes              |
      | provider.kind   | mission_military |
      | route.id        | MGQ-CGD          |
      | decision.status | approved         |
    And 14 days pass
    And the events happen in area SO-HI
    When an incident report is recorded:
      | field         | value   |
      | type          | looting |
      | target.org_id | org-1   |
      | route.id      | MGQ-CGD |
    Then INC-001 is raised as warning
    And the explanation of INC-001 mentions "route.id"

  Scenario: A convoy is looted on another road, in another area
    Given an operation in SOM
    And the events happen in area SO-BN
    And an escort request is recorded:
      | field           | value            |
      | armed           | yes              |
      | provider.kind   | mission_military |
      | route.id        | MGQ-CGD          |
      | decision.status | approved         |
    And 14 days pass
    And the events happen in area SO-HI
    When an incident report is recorded:
      | field         | value   |
      | type          | looting |
      | target.org_id | org-1   |
      | route.id      | BLD-JHR |
    Then INC-001 is not raised

  # INC-002: public accusation of affiliation, or declaration of illegitimacy

  Scenario: An armed group declares that it no longer recognises the UN as legitimate
    Given an operation in SOM
    When an incident report is recorded:
      | field             | value            |
      | type              | public_statement |
      | perpetrator_kind  | nsag             |
      | statement.targets | un               |
      | statement.claims  | illegitimate     |
    Then INC-002 is raised as critical
    And the advice of INC-002 mentions "publicly tied to one side"

  Scenario Outline: A statement (<type>) about the <target> that claims: <claim>
    Given an operation in SOM
    When an incident report is recorded:
      | field             | value    |
      | type              | <type>   |
      | perpetrator_kind  | nsag     |
      | statement.targets | <target> |
      | statement.claims  | <claim>  |
    Then INC-002 is raised as critical

    Examples:
      | type             | target        | claim |
      | accusation       | org           | spy   |
      | public_statement | humanitarians | party |
      | threat           | mission       | party |

  Scenario: A threat that says the organisation was seen travelling with the mission
    Given an operation in SOM
    When an incident report is recorded:
      | field             | value                                     |
      | type              | threat                                    |
      | perpetrator_kind  | militia                                   |
      | target.org_id     | org-1                                     |
      | association_cited | seen travelling with the mission's convoy |
    Then INC-002 is raised as critical

  Scenario: A threat that cites no association and makes no claim of affiliation
    Given an operation in SOM
    When an incident report is recorded:
      | field             | value   |
      | type              | threat  |
      | perpetrator_kind  | militia |
      | target.org_id     | org-1   |
      | statement.claims  | other   |
      | association_cited | no      |
    Then INC-002 is not raised

  Scenario: An attack citing the organisation's link with the mission is an incident, not a statement
    Given an operation in SOM
    When an incident report is recorded:
      | field             | value  |
      | type              | attack |
      | target.org_id     | org-1  |
      | association_cited | yes    |
    Then INC-002 is not raised
