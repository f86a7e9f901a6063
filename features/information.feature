Feature: Information sharing and data (INF)
  What aid workers know about people, places and armed groups can put people in danger if it
  reaches a military, police, political or intelligence office (CATALOG.md §1.5 and §4.8). Data
  leaves the humanitarian system only under the information-sharing protocol (ISP), classified
  and under an agreement; locations and movement plans go out only for deconfliction and only
  through the agreed channel; contacts with armed groups and notes from access talks never go
  to the other side. In an integrated presence, where the mission's offices sit next to the
  humanitarian ones (the seed article), the requests come often and from close by.

  # INF-001: personal or protection data to military, political or security actors

  Scenario: The mission's military information cell asks for the names of survivors on a protection list
    Given an operation in SOM
    And the events happen in area SO-BN
    When an information share is recorded:
      | field             | value                              |
      | direction         | incoming_request                   |
      | counterparty.kind | mission_military                   |
      | counterparty.id   | mission-military-information-cell  |
      | categories        | personal_data, protection_incident |
      | granularity       | individual                         |
      | record_count      | 40                                 |
      | purpose           | military_planning                  |
    Then INF-001 is raised as critical
    And the advice of INF-001 mentions "put people in danger"
    And the explanation of INF-001 mentions "granularity"

  Scenario Outline: Beneficiary records by name go to an office of kind <counterparty>
    Given an operation with no context profile
    When an information share is recorded:
      | field             | value          |
      | direction         | outgoing       |
      | counterparty.kind | <counterparty> |
      | categories        | personal_data  |
      | granularity       | <granularity>  |
    Then INF-001 is raised as critical

    Examples:
      | counterparty      | granularity |
      | national_police   | individual  |
      | intelligence      | individual  |
      | mission_political | geolocated  |
      | private_security  | geolocated  |

  Scenario: The same protection figures, aggregated by district, go to the mission
    Given an operation in SOM
    When an information share is recorded:
      | field             | value                              |
      | direction         | outgoing                           |
      | counterparty.kind | mission_military                   |
      | categories        | personal_data, protection_incident |
      | granularity       | admin                              |
      | purpose           | coordination                       |
    Then INF-001 is not raised

  Scenario: A survivor is referred by name to a UN protection agency, with consent
    Given an operation in SOM
    When an information share is recorded:
      | field             | value               |
      | direction         | outgoing            |
      | counterparty.kind | un_agency           |
      | categories        | protection_incident |
      | granularity       | individual          |
      | purpose           | protection_referral |
      | consent           | yes                 |
    Then INF-001 is not raised

  # INF-002: location or movement data beyond deconfliction

  Scenario: Distribution-site coordinates are sent to a national army brigade for "coordination"
    Given an operation in SOM
    When an information share is recorded:
      | field             | value                                     |
      | direction         | outgoing                                  |
      | counterparty.kind | national_military                         |
      | categories        | beneficiary_locations, idp_site_locations |
      | granularity       | geolocated                                |
      | purpose           | coordination                              |
    Then INF-002 is raised as warning
    And the advice of INF-002 mentions "only for deconfliction"

  Scenario: A convoy schedule goes to the mission for deconfliction, but straight to its sector headquarters
    Given an operation in SOM
    When an information share is recorded:
      | field             | value                 |
      | direction         | outgoing              |
      | counterparty.kind | mission_military      |
      | counterparty.id   | sector-1-headquarters |
      | categories        | convoy_schedule       |
      | granularity       | site                  |
      | purpose           | deconfliction         |
    Then INF-002 is raised as warning

  Scenario: The convoy's route and time go to the mission for deconfliction through the agreed notification system
    Given an operation in SOM
    When an information share is recorded:
      | field             | value                            |
      | direction         | outgoing                         |
      | counterparty.kind | mission_military                 |
      | counterparty.id   | humanitarian_notification_system |
      | categories        | convoy_schedule                  |
      | granularity       | site                             |
      | purpose           | deconfliction                    |
    Then INF-002 is not raised

  Scenario: Where the context profile names the mission's force as an agreed deconfliction recipient
    Given an operation in SOM
    And the context profile has:
      | field                  | value                                              |
      | deconfliction_channels | humanitarian_notification_system, mission_military |
    When an information share is recorded:
      | field             | value            |
      | direction         | outgoing         |
      | counterparty.kind | mission_military |
      | categories        | staff_locations  |
      | granularity       | site             |
      | purpose           | deconfliction    |
    Then INF-002 is not raised

  Scenario: A convoy's notification to the mission carries the full manifest
    Given an operation in SOM
    And the events happen in area SO-BN
    When a movement request is recorded:
      | field                           | value                            |
      | mode                            | road                             |
      | route.id                        | MGQ-CGD                          |
      | notifications[1].recipient_kind | mission_military                 |
      | notifications[1].channel        | humanitarian_notification_system |
      | notifications[1].content_level  | full_manifest                    |
      | status                          | requested                        |
    Then INF-002 is raised as warning

  Scenario: A convoy notifies the mission of its route and date only, through the notification system
    Given an operation in SOM
    And the events happen in area SO-BN
    When a movement request is recorded:
      | field                           | value                            |
      | mode                            | road                             |
      | route.id                        | MGQ-CGD                          |
      | notifications[1].recipient_kind | mission_military                 |
      | notifications[1].channel        | humanitarian_notification_system |
      | notifications[1].content_level  | route_and_date                   |
      | status                          | requested                        |
    Then INF-002 is not raised

  # INF-003: sharing outside the humanitarian system with no ISP, classification or agreement

  Scenario: Security-incident data goes to the mission with no classification and no agreement
    Given an operation in SOM
    When an information share is recorded:
      | field             | value             |
      | direction         | outgoing          |
      | counterparty.kind | mission_military  |
      | categories        | security_incident |
      | granularity       | admin             |
      | purpose           | staff_security    |
    Then INF-003 is raised as warning
    And the explanation of INF-003 mentions "sensitivity"

  Scenario: Classified and under an agreement, but in an operation with no information-sharing protocol
    Given an operation in PHL
    When an information share is recorded:
      | field             | value            |
      | direction         | outgoing         |
      | counterparty.kind | foreign_military |
      | categories        | aggregate_needs  |
      | granularity       | admin            |
      | sensitivity       | moderate         |
      | agreement_ref     | DSA-PHL-2026-004 |
      | purpose           | coordination     |
    Then INF-003 is raised as warning
    And the advice of INF-003 mentions "information-sharing protocol"

  Scenario: Classified, under the Somalia ISP and a data-sharing agreement
    Given an operation in SOM
    When an information share is recorded:
      | field             | value             |
      | direction         | outgoing          |
      | counterparty.kind | mission_military  |
      | categories        | security_incident |
      | granularity       | admin             |
      | sensitivity       | moderate          |
      | isp_ref           | Somalia ISP       |
      | agreement_ref     | DSA-SOM-2026-011  |
      | purpose           | staff_security    |
    Then INF-003 is not raised

  Scenario: Unclassified needs figures shared with another humanitarian organisation
    Given an operation in SOM
    When an information share is recorded:
      | field             | value           |
      | direction         | outgoing        |
      | counterparty.kind | ingo            |
      | categories        | aggregate_needs |
      | granularity       | admin           |
    Then INF-003 is not raised

  # INF-004: armed-group contacts, negotiation notes or perception data

  Scenario: The access team's notes from talks with an armed group are passed to the mission's political affairs office
    Given an operation in SOM
    When an information share is recorded:
      | field             | value                            |
      | direction         | outgoing                         |
      | counterparty.kind | mission_political                |
      | categories        | negotiation_notes, nsag_contacts |
      | granularity       | individual                       |
    Then INF-004 is raised as critical
    And the advice of INF-004 mentions "informants"

  Scenario Outline: <category> asked for by an office of kind <counterparty>
    Given an operation with no context profile
    When an information share is recorded:
      | field             | value            |
      | direction         | incoming_request |
      | counterparty.kind | <counterparty>   |
      | categories        | <category>       |
    Then INF-004 is raised as critical

    Examples:
      | category              | counterparty      |
      | nsag_contacts         | national_military |
      | negotiation_notes     | intelligence      |
      | community_perceptions | mission_military  |

  Scenario: Notes from access talks are shared with the access working group
    Given an operation in SOM
    When an information share is recorded:
      | field             | value             |
      | direction         | outgoing          |
      | counterparty.kind | ocha              |
      | categories        | negotiation_notes |
    Then INF-004 is not raised

  Scenario: The mission's political office receives aggregate needs figures only
    Given an operation in SOM
    When an information share is recorded:
      | field             | value             |
      | direction         | outgoing          |
      | counterparty.kind | mission_political |
      | categories        | aggregate_needs   |
      | granularity       | admin             |
    Then INF-004 is not raised

  # INF-005: repeated information requests from the same military or political office

  Scenario: The mission's military information cell asks for the third time in a month
    Given an operation in SOM
    And an information share is recorded:
      | field             | value                             |
      | direction         | incoming_request                  |
      | counterparty.kind | mission_military                  |
      | counterparty.id   | mission-military-information-cell |
      | categories        | aggregate_needs                   |
    And 10 days pass
    And an information share is recorded:
      | field             | value                             |
      | direction         | incoming_request                  |
      | counterparty.kind | mission_military                  |
      | counterparty.id   | mission-military-information-cell |
      | categories        | facility_coordinates              |
    And 10 days pass
    When an information share is recorded:
      | field             | value                             |
      | direction         | incoming_request                  |
      | counterparty.kind | mission_military                  |
      | counterparty.id   | mission-military-information-cell |
      | categories        | aggregate_needs                   |
    Then INF-005 is raised as advice
    And the advice of INF-005 mentions "keeps asking"
    And the explanation of INF-005 mentions "counterparty.id"

  Scenario: The third request asks for the beneficiary lists themselves
    Given an operation in SOM
    And an information share is recorded:
      | field             | value                             |
      | direction         | incoming_request                  |
      | counterparty.kind | mission_military                  |
      | counterparty.id   | mission-military-information-cell |
      | categories        | aggregate_needs                   |
    And 10 days pass
    And an information share is recorded:
      | field             | value                             |
      | direction         | incoming_request                  |
      | counterparty.kind | mission_military                  |
      | counterparty.id   | mission-military-information-cell |
      | categories        | aggregate_needs                   |
    And 10 days pass
    When an information share is recorded:
      | field             | value                             |
      | direction         | incoming_request                  |
      | counterparty.kind | mission_military                  |
      | counterparty.id   | mission-military-information-cell |
      | categories        | personal_data                     |
      | granularity       | individual                        |
      | record_count      | 30                                |
    Then INF-005 is raised as warning
    And INF-001 is raised as critical

  Scenario: The third request comes on the last day of the 30-day window
    Given an operation in SOM
    And an information share is recorded:
      | field             | value              |
      | direction         | incoming_request   |
      | counterparty.kind | national_military  |
      | counterparty.id   | army-brigade-g2    |
      | categories        | idp_site_locations |
    And 15 days pass
    And an information share is recorded:
      | field             | value              |
      | direction         | incoming_request   |
      | counterparty.kind | national_military  |
      | counterparty.id   | army-brigade-g2    |
      | categories        | idp_site_locations |
    And 15 days pass
    When an information share is recorded:
      | field             | value              |
      | direction         | incoming_request   |
      | counterparty.kind | national_military  |
      | counterparty.id   | army-brigade-g2    |
      | categories        | idp_site_locations |
    Then INF-005 is raised as advice

  Scenario: The third request comes two hours after the first has left the window
    Given an operation in SOM
    And an information share is recorded:
      | field             | value              |
      | direction         | incoming_request   |
      | counterparty.kind | national_military  |
      | counterparty.id   | army-brigade-g2    |
      | categories        | idp_site_locations |
    And 15 days pass
    And an information share is recorded:
      | field             | value              |
      | direction         | incoming_request   |
      | counterparty.kind | national_military  |
      | counterparty.id   | army-brigade-g2    |
      | categories        | idp_site_locations |
    And 15 days pass
    And 2 hours pass
    When an information share is recorded:
      | field             | value              |
      | direction         | incoming_request   |
      | counterparty.kind | national_military  |
      | counterparty.id   | army-brigade-g2    |
      | categories        | idp_site_locations |
    Then INF-005 is not raised

  Scenario: Three requests in a month, each from a different office
    Given an operation in SOM
    And an information share is recorded:
      | field             | value                             |
      | direction         | incoming_request                  |
      | counterparty.kind | mission_military                  |
      | counterparty.id   | mission-military-information-cell |
      | categories        | aggregate_needs                   |
    And 5 days pass
    And an information share is recorded:
      | field             | value                 |
      | direction         | incoming_request      |
      | counterparty.kind | mission_political     |
      | counterparty.id   | mission-civil-affairs |
      | categories        | aggregate_needs       |
    And 5 days pass
    When an information share is recorded:
      | field             | value            |
      | direction         | incoming_request |
      | counterparty.kind | national_police  |
      | counterparty.id   | district-police  |
      | categories        | aggregate_needs  |
    Then INF-005 is not raised

  Scenario: Three requests in a month from the same humanitarian cluster
    Given an operation in SOM
    And an information share is recorded:
      | field             | value             |
      | direction         | incoming_request  |
      | counterparty.kind | un_agency         |
      | counterparty.id   | nutrition-cluster |
      | categories        | aggregate_needs   |
    And 5 days pass
    And an information share is recorded:
      | field             | value             |
      | direction         | incoming_request  |
      | counterparty.kind | un_agency         |
      | counterparty.id   | nutrition-cluster |
      | categories        | aggregate_needs   |
    And 5 days pass
    When an information share is recorded:
      | field             | value             |
      | direction         | incoming_request  |
      | counterparty.kind | un_agency         |
      | counterparty.id   | nutrition-cluster |
      | categories        | aggregate_needs   |
    Then INF-005 is not raised

  Scenario Outline: One request for <records> exact locations of displaced households
    Given an operation in SOM
    When an information share is recorded:
      | field             | value              |
      | direction         | incoming_request   |
      | counterparty.kind | mission_military   |
      | categories        | idp_site_locations |
      | granularity       | geolocated         |
      | record_count      | <records>          |
    Then INF-005 is raised as advice

    Examples:
      | records |
      | 51      |
      | 400     |

  Scenario: One bulk request for individual case files of protection survivors
    Given an operation in SOM
    When an information share is recorded:
      | field             | value               |
      | direction         | incoming_request    |
      | counterparty.kind | intelligence        |
      | categories        | protection_incident |
      | granularity       | individual          |
      | record_count      | 120                 |
    Then INF-005 is raised as warning

  Scenario: One request for exactly 50 locations is below the bulk threshold
    Given an operation in SOM
    When an information share is recorded:
      | field             | value              |
      | direction         | incoming_request   |
      | counterparty.kind | mission_military   |
      | categories        | idp_site_locations |
      | granularity       | geolocated         |
      | record_count      | 50                 |
    Then INF-005 is not raised

  Scenario: One request for 400 records aggregated by district is not a bulk request
    Given an operation in SOM
    When an information share is recorded:
      | field             | value            |
      | direction         | incoming_request |
      | counterparty.kind | mission_military |
      | categories        | aggregate_needs  |
      | granularity       | admin            |
      | record_count      | 400              |
    Then INF-005 is not raised
