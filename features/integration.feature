Feature: Integration context (INT)
  In a structurally integrated UN presence one official wears three hats: Humanitarian
  Coordinator, Resident Coordinator and deputy head of the peacekeeping or political mission (the
  seed article). Where that mission is, or is seen as, a party to the conflict, or armed actors
  are hostile to the UN, anything that links aid workers to the mission carries extra risk
  (CATALOG.md §4.10, INT-001): every association event there carries the reminder. When the
  context turns that way (the mission becomes a party, goes on the offensive, or an armed group
  declares the UN illegitimate, as Al Shabaab did after UN support to AMISOM), the approvals
  made before must be reviewed again within a week (INT-002).

  # INT-001: structurally integrated presence where the mission is a (perceived) party

  Scenario Outline: In an integrated presence where the mission is a party, <event> carries the reminder
    Given an operation in SOM
    And the events happen in area SO-BN
    When <event> is recorded:
      | field   | value   |
      | <field> | <value> |
    Then INT-001 is raised as warning
    And the advice of INT-001 mentions "visibly separate"

    Examples:
      | event               | field            | value            |
      | an escort request   | armed            | no               |
      | an asset request    | asset.owner_kind | mission_civilian |
      | a movement request  | status           | requested        |
      | a publication       | type             | press_release    |
      | a premises change   | premises.type    | warehouse        |
      | a distribution plan | modality         | in_kind          |
      | a meeting           | purpose          | coordination     |

  Scenario: The focal point records that the mission is now seen as a party in Sanaag
    Given an operation in SOM
    And the events happen in area SO-SA
    When a context update is recorded:
      | field                     | value                     |
      | area_scope                | SO-SA                     |
      | mission.party_to_conflict | perceived                 |
      | changed_fields            | mission.party_to_conflict |
      | source                    | OCHA CMCoord Somalia      |
    Then INT-001 is raised as warning

  Scenario: Armed actors declare the UN illegitimate where the mission is not seen as a party
    Given an operation in SOM
    And the events happen in area SO-SA
    When a context update is recorded:
      | field                    | value                    |
      | area_scope               | SO-SA                    |
      | armed_actor_stance_on_un | declared_illegitimate    |
      | changed_fields           | armed_actor_stance_on_un |
    Then INT-001 is raised as warning

  Scenario: An integrated presence where the mission is not a party and armed actors accept the UN
    Given an operation in SOM
    And the events happen in area SO-SA
    When a meeting is recorded:
      | field                | value            |
      | purpose              | coordination     |
      | counterparts[1].kind | mission_civilian |
    Then INT-001 is not raised

  Scenario: The mission is seen as a party, but the UN presence is not integrated
    Given an operation in SOM
    And the UN presence is not integrated
    And the events happen in area SO-BN
    When an asset request is recorded:
      | field            | value            |
      | asset.owner_kind | mission_civilian |
    Then INT-001 is not raised

  Scenario: Another operation, described only in the scene: integrated, with a mission seen as a party
    Given the UN presence is structurally integrated
    And the mission is seen as a party to the conflict
    When a premises change is recorded:
      | field              | value            |
      | premises.type      | office           |
      | inside_compound_of | mission_civilian |
    Then INT-001 is raised as warning

  Scenario: An information share is not an association event for the reminder
    Given an operation in SOM
    And the events happen in area SO-BN
    When an information share is recorded:
      | field             | value           |
      | direction         | outgoing        |
      | counterparty.kind | ingo            |
      | categories        | aggregate_needs |
    Then INT-001 is not raised

  # INT-002: context change, so re-review active approvals

  Scenario: The mission becomes a party in Sanaag and nobody reviews the approvals within a week
    Given an operation in SOM
    And the events happen in area SO-SA
    And an escort request "esc-sanaag-1" is recorded:
      | field           | value            |
      | armed           | yes              |
      | provider.kind   | mission_military |
      | route.id        | CRG-GRW          |
      | decision.status | approved         |
    And 20 days pass
    When a context update is recorded:
      | field                     | value                     |
      | area_scope                | SO-SA                     |
      | mission.party_to_conflict | yes                       |
      | changed_fields            | mission.party_to_conflict |
    Then INT-002 is not raised
    When 8 days pass
    Then INT-002 is raised as warning
    And the advice of INT-002 mentions "Review them now"
    And the explanation of INT-002 mentions "mission.party_to_conflict"

  Scenario: The re-review is due seven days after the change, not before
    Given an operation in SOM
    And the events happen in area SO-SA
    And a context update is recorded:
      | field                     | value     |
      | area_scope                | SO-SA     |
      | mission.party_to_conflict | perceived |
    When 7 days pass
    Then INT-002 is not raised
    When 2 hours pass
    Then INT-002 is raised as warning

  Scenario: The escort is re-reviewed five days after the change
    Given an operation in SOM
    And the events happen in area SO-SA
    And an escort request "esc-sanaag-1" is recorded:
      | field           | value            |
      | armed           | yes              |
      | provider.kind   | mission_military |
      | route.id        | CRG-GRW          |
      | decision.status | approved         |
    And 20 days pass
    And a context update is recorded:
      | field                     | value |
      | area_scope                | SO-SA |
      | mission.party_to_conflict | yes   |
    And 5 days pass
    When an escort request "esc-sanaag-1" is recorded:
      | field           | value                                          |
      | armed           | yes                                            |
      | provider.kind   | mission_military                               |
      | route.id        | CRG-GRW                                        |
      | decision.status | approved                                       |
      | review.date     | -1 days                                        |
      | review.outcome  | continue with a low-profile alternative tested |
    And 3 days pass
    Then INT-002 is not raised

  Scenario: An escort update that records no review does not count as a re-review
    Given an operation in SOM
    And the events happen in area SO-SA
    And a context update is recorded:
      | field                     | value |
      | area_scope                | SO-SA |
      | mission.party_to_conflict | yes   |
    And 5 days pass
    When an escort request "esc-sanaag-1" is recorded:
      | field           | value            |
      | armed           | yes              |
      | provider.kind   | mission_military |
      | decision.status | approved         |
    And 3 days pass
    Then INT-002 is raised as warning

  Scenario Outline: A change of context that calls for a re-review: <field> becomes <value>
    Given an operation in SOM
    And the events happen in area SO-SA
    When a context update is recorded:
      | field      | value   |
      | area_scope | SO-SA   |
      | <field>    | <value> |
    And 8 days pass
    Then INT-002 is raised as warning

    Examples:
      | field                        | value                 |
      | mission.party_to_conflict    | yes                   |
      | mission.party_to_conflict    | perceived             |
      | armed_actor_stance_on_un     | declared_illegitimate |
      | mission.offensive_operations | yes                   |

  Scenario Outline: A change of context that does not call for a re-review: <field> becomes <value>
    Given an operation in SOM
    And the events happen in area SO-SA
    When a context update is recorded:
      | field      | value   |
      | area_scope | SO-SA   |
      | <field>    | <value> |
    And 8 days pass
    Then INT-002 is not raised

    Examples:
      | field                                | value                      |
      | mission.party_to_conflict            | no                         |
      | mission.party_to_conflict            | unknown                    |
      | armed_actor_stance_on_un             | hostile                    |
      | mission.offensive_operations         | no                         |
      | country_guidance.cmcoord_focal_point | OCHA CMCoord Somalia (new) |

  Scenario: An armed group declares the UN illegitimate after UN support to the regional force
    Given an operation in SOM
    When an incident report is recorded:
      | field             | value            |
      | type              | public_statement |
      | perpetrator_kind  | nsag             |
      | statement.targets | un               |
      | statement.claims  | illegitimate     |
    And 8 days pass
    Then INT-002 is raised as warning

  Scenario: An armed group's statement that makes no claim of illegitimacy or partisanship
    Given an operation in SOM
    When an incident report is recorded:
      | field             | value            |
      | type              | public_statement |
      | perpetrator_kind  | nsag             |
      | statement.targets | humanitarians    |
      | statement.claims  | other            |
    And 8 days pass
    Then INT-002 is not raised
