Feature: Engagement and joint activities (ENG)
  Visiting communities together with the mission or an armed force, or meeting an armed group on
  the mission's base or from the mission's helicopter, makes aid workers look like part of that
  force's operation (CATALOG.md §4.9, ENG-001). Meeting armed groups is itself part of
  humanitarian access work; it is the mission's company, transport or premises that ties it to
  one side. Where the mission is seen as a party to the conflict, as in the seed article's
  Somalia, the advisory rises to critical.

  Scenario: A joint needs assessment with the mission's soldiers where the mission is a party to the conflict
    Given an operation in SOM
    And the events happen in area SO-BN
    When a meeting is recorded:
      | field                  | value               |
      | purpose                | joint_assessment    |
      | counterparts[1].kind   | government_civilian |
      | accompanied_by[1].kind | mission_military    |
      | venue_kind             | community           |
    Then ENG-001 is raised as critical
    And the advice of ENG-001 mentions "part of their operation"
    And the explanation of ENG-001 mentions "accompanied_by"

  Scenario: The same joint assessment in an area where the mission is not seen as a party
    Given an operation in SOM
    And the events happen in area SO-SA
    When a meeting is recorded:
      | field                  | value               |
      | purpose                | joint_assessment    |
      | counterparts[1].kind   | government_civilian |
      | accompanied_by[1].kind | mission_military    |
      | venue_kind             | community           |
    Then ENG-001 is raised as warning

  Scenario Outline: A joint visit to a village with a <companion> where nothing is known of the context
    Given an operation with no context profile
    When a meeting is recorded:
      | field                  | value       |
      | purpose                | joint_visit |
      | accompanied_by[1].kind | <companion> |
      | venue_kind             | community   |
    Then ENG-001 is raised as warning
    And ENG-001 says the context was unknown

    Examples:
      | companion         |
      | mission_political |
      | national_military |
      | national_police   |
      | private_security  |

  Scenario: A joint assessment with the mission's civil-affairs officers as counterparts
    Given an operation in SOM
    And the events happen in area SO-SA
    When a meeting is recorded:
      | field                | value             |
      | purpose              | joint_assessment  |
      | counterparts[1].kind | mission_political |
    Then ENG-001 is raised as warning

  Scenario: A joint assessment among humanitarian agencies and the local authorities only
    Given an operation in SOM
    And the events happen in area SO-BN
    When a meeting is recorded:
      | field                  | value               |
      | purpose                | joint_assessment    |
      | counterparts[1].kind   | government_civilian |
      | accompanied_by[1].kind | un_agency           |
      | accompanied_by[2].kind | ocha                |
    Then ENG-001 is not raised

  Scenario: An armed group's commanders are met on the mission's base where the mission is a party
    Given an operation in SOM
    And the events happen in area SO-BN
    When a meeting is recorded:
      | field                | value              |
      | purpose              | access_negotiation |
      | counterparts[1].kind | nsag               |
      | venue_kind           | mission_base       |
    Then ENG-001 is raised as critical
    And the explanation of ENG-001 mentions "venue_kind"
    And the explanation of ENG-001 mentions "armed-group meeting facilitated by the mission"

  Scenario: The access team flies to meet an armed group on a national army helicopter
    Given an operation in SOM
    And the events happen in area SO-SA
    When a meeting is recorded:
      | field                   | value              |
      | purpose                 | access_negotiation |
      | counterparts[1].kind    | nsag               |
      | transport_provider.kind | national_military  |
      | venue_kind              | community          |
    Then ENG-001 is raised as warning

  Scenario: A mission political officer comes along to access talks with an armed group
    Given an operation in SOM
    And the events happen in area SO-SA
    When a meeting is recorded:
      | field                  | value              |
      | purpose                | access_negotiation |
      | counterparts[1].kind   | nsag               |
      | accompanied_by[1].kind | mission_political  |
      | venue_kind             | neutral            |
    Then ENG-001 is raised as warning

  Scenario: Access talks with an armed group in the community, reached in the organisation's own vehicles
    Given an operation in SOM
    And the events happen in area SO-BN
    When a meeting is recorded:
      | field                   | value              |
      | purpose                 | access_negotiation |
      | counterparts[1].kind    | nsag               |
      | transport_provider.kind | ingo               |
      | venue_kind              | community          |
      | minutes_recorded        | yes                |
      | shared_with_access_wg   | yes                |
    Then ENG-001 is not raised

  Scenario: A security briefing with the mission's force at its base is not a joint activity
    Given an operation in SOM
    And the events happen in area SO-BN
    When a meeting is recorded:
      | field                | value             |
      | purpose              | security_briefing |
      | counterparts[1].kind | mission_military  |
      | venue_kind           | mission_base      |
    Then ENG-001 is not raised
