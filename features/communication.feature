Feature: Communication and visibility (COM)
  A joint statement, a joint logo or a story that credits the mission with humanitarian results
  tells everyone that aid workers and the mission are on the same team (CATALOG.md §4.7). In the
  seed article's Somalia, an armed group declared the UN and "any of its institutions and
  affiliates" illegitimate after UN support to AMISOM. The study it reports asks aid workers to use
  mission assets only as a last resort and to explain to communities how their work differs from
  the mission's (COM-004).

  # COM-001: joint public communication with the mission, armed forces or a party

  Scenario: A UN agency issues a joint press release with the integrated mission
    Given an operation in SOM
    And the organisation is org-7, a un_agency
    When a publication is recorded:
      | field              | value             |
      | type               | press_release     |
      | co_authors[1].kind | mission_political |
      | audience           | national media    |
    Then COM-001 is raised as critical
    And the advice of COM-001 mentions "on the same team"
    And the explanation of COM-001 mentions "co_authors"

  Scenario: After a typhoon, a joint press release with a foreign military contingent
    Given an operation in PHL
    When a publication is recorded:
      | field              | value            |
      | type               | press_release    |
      | co_authors[1].kind | foreign_military |
    Then COM-001 is raised as warning

  Scenario Outline: A publication co-signed by, or carrying the logo of, the mission or an armed force
    Given an operation with no context profile
    When a publication is recorded:
      | field   | value  |
      | type    | <type> |
      | <field> | <kind> |
    Then COM-001 is raised as warning
    And COM-001 says the context was unknown

    Examples:
      | type          | field               | kind              |
      | press_release | co_authors[1].kind  | mission_military  |
      | report        | co_authors[1].kind  | national_police   |
      | social_post   | logos[1].owner_kind | mission_political |
      | event         | logos[1].owner_kind | militia           |

  Scenario: A joint statement where the UN presence is structurally integrated and armed actors are hostile to the UN
    Given an operation with no context profile
    And the UN presence is structurally integrated
    And armed actors are hostile to the UN
    When a publication is recorded:
      | field              | value            |
      | type               | press_release    |
      | co_authors[1].kind | mission_military |
    Then COM-001 is raised as critical
    And the explanation of COM-001 mentions "structurally integrated"

  Scenario: Near miss - a press release co-signed with other humanitarian agencies
    Given an operation in SOM
    And the organisation is org-7, a un_agency
    When a publication is recorded:
      | field              | value         |
      | type               | press_release |
      | co_authors[1].kind | un_agency     |
      | co_authors[2].kind | ingo          |
      | co_authors[3].kind | ocha          |
    Then COM-001 is not raised

  Scenario: Near miss - after a typhoon, a joint statement with the civilian disaster authority
    Given an operation in PHL
    When a publication is recorded:
      | field              | value               |
      | type               | press_release       |
      | co_authors[1].kind | government_civilian |
    Then COM-001 is not raised

  # COM-002: aid framed as part of military, political or stabilisation aims

  Scenario Outline: A report presents aid as part of a military, political or stabilisation campaign
    Given an operation in SOM
    And the events happen in area SO-BN
    When a publication is recorded:
      | field        | value   |
      | type         | report  |
      | framing_tags | <frame> |
    Then COM-002 is raised as warning
    And the advice of COM-002 mentions "stabilisation campaign"

    Examples:
      | frame              |
      | stabilisation      |
      | counter_insurgency |
      | hearts_minds       |
      | mission_success    |

  Scenario: A social post credits the mission's soldiers with a water point the NGO built
    Given an operation in SOM
    And the events happen in area SO-BN
    When a publication is recorded:
      | field                              | value            |
      | type                               | social_post      |
      | attributes_humanitarian_results_to | mission_military |
      | images.uniformed_personnel         | yes              |
    Then COM-002 is raised as warning

  Scenario: Near miss - a report on the peace process that keeps aid to needs and principles
    Given an operation in SOM
    When a publication is recorded:
      | field                              | value                            |
      | type                               | report                           |
      | framing_tags                       | peace_process, humanitarian_only |
      | attributes_humanitarian_results_to | ingo                             |
    Then COM-002 is not raised

  # COM-003: joint branding

  Scenario: Mission logos on a distribution banner beside the agency's
    Given an operation in SOM
    And the organisation is org-7, a un_agency
    And the events happen in area SO-BN
    When a distribution plan is recorded:
      | field                  | value            |
      | site.id                | dist-bn-07       |
      | actors[1].kind         | un_agency        |
      | actors[1].role         | distributing     |
      | branding[1].owner_kind | un_agency        |
      | branding[2].owner_kind | mission_military |
    Then COM-003 is raised as critical
    And the advice of COM-003 mentions "Keep branding separate"

  Scenario: After a typhoon, the army's sign beside the NGO's at a relief warehouse
    Given an operation in PHL
    When a premises change is recorded:
      | field                 | value             |
      | premises.type         | warehouse         |
      | inside_compound_of    | none              |
      | signage[1].owner_kind | ingo              |
      | signage[2].owner_kind | national_military |
    Then COM-003 is raised as warning

  Scenario: A press release with the NGO's and the political mission's logos side by side
    Given an operation with no context profile
    When a publication is recorded:
      | field               | value             |
      | type                | press_release     |
      | logos[1].owner_kind | ingo              |
      | logos[2].owner_kind | mission_political |
    Then COM-003 is raised as warning
    And COM-001 is raised as warning

  Scenario: A convoy mixes humanitarian-marked trucks with a mission-marked vehicle
    Given an operation with no context profile
    When a movement request is recorded:
      | field                  | value            |
      | mode                   | road             |
      | vehicles[1].owner_kind | ingo             |
      | vehicles[1].markings   | humanitarian     |
      | vehicles[2].owner_kind | mission_civilian |
      | vehicles[2].markings   | mission          |
      | status                 | requested        |
    Then COM-003 is raised as warning

  Scenario: Near miss - the banner carries the agency's and the donor's logos
    Given an operation in SOM
    And the events happen in area SO-BN
    When a distribution plan is recorded:
      | field                  | value      |
      | site.id                | dist-bn-07 |
      | branding[1].owner_kind | un_agency  |
      | branding[2].owner_kind | donor      |
    Then COM-003 is not raised

  Scenario: Near miss - a post carrying only the political mission's logo is joint communication, not joint branding
    Given an operation with no context profile
    When a publication is recorded:
      | field               | value             |
      | type                | social_post       |
      | logos[1].owner_kind | mission_political |
    Then COM-003 is not raised
    And COM-001 is raised as warning

  Scenario: Near miss - a convoy of humanitarian-marked and UN-marked trucks
    Given an operation with no context profile
    When a movement request is recorded:
      | field                  | value        |
      | mode                   | road         |
      | vehicles[1].owner_kind | ingo         |
      | vehicles[1].markings   | humanitarian |
      | vehicles[2].owner_kind | un_agency    |
      | vehicles[2].markings   | un           |
      | status                 | requested    |
    Then COM-003 is not raised

  Scenario: Near miss - the mission's own quick-impact project carries only the mission's logo
    Given an operation in SOM
    And the events happen in area SO-BN
    When a distribution plan is recorded:
      | field                  | value            |
      | site.id                | qip-bn-03        |
      | branding[1].owner_kind | mission_military |
    Then COM-003 is not raised

  # COM-004: no acceptance or sensitisation after first use of mission assets or escort

  Scenario: The first mission helicopter flight in a district is followed by no sensitisation
    Given an operation in SOM
    And the events happen in area SO-BN
    And an asset request is recorded:
      | field            | value            |
      | asset.kind       | helicopter       |
      | asset.owner_kind | mission_military |
      | needed_within_h  | 48               |
    When 15 days pass
    Then COM-004 is raised as advice
    And the advice of COM-004 mentions "how you differ from the mission"

  Scenario: Near miss - thirteen days on, the two weeks have not yet run out
    Given an operation in SOM
    And the events happen in area SO-BN
    And an asset request is recorded:
      | field            | value            |
      | asset.kind       | helicopter       |
      | asset.owner_kind | mission_military |
    When 13 days pass
    Then COM-004 is not raised
    When 2 days pass
    Then COM-004 is raised as advice

  Scenario Outline: First use of mission or military assets, with no outreach afterwards
    Given an operation in SOM
    And the events happen in area SO-BN
    And an asset request is recorded:
      | field            | value   |
      | asset.kind       | <asset> |
      | asset.owner_kind | <owner> |
    When 15 days pass
    Then COM-004 is raised as advice

    Examples:
      | asset      | owner             |
      | helicopter | mission_military  |
      | fixed_wing | mission_civilian  |
      | truck      | national_military |
      | warehouse  | mission_military  |

  Scenario: First travel in a mission convoy, with no outreach afterwards
    Given an operation in SOM
    And the events happen in area SO-BN
    And a movement request is recorded:
      | field           | value            |
      | mode            | road             |
      | joins_convoy_of | mission_military |
      | status          | requested        |
    When 15 days pass
    Then COM-004 is raised as advice

  Scenario: First armed escort by the mission, with no outreach afterwards
    Given an operation in SOM
    And the events happen in area SO-BN
    And an escort request is recorded:
      | field                   | value                  |
      | armed                   | yes                    |
      | provider.kind           | mission_military       |
      | alternatives_considered | acceptance_negotiation |
    When 15 days pass
    Then COM-004 is raised as advice

  Scenario: A joint visit with the mission's soldiers to a village, with no outreach afterwards
    Given an operation in SOM
    And the events happen in area SO-BN
    And a meeting is recorded:
      | field                | value            |
      | purpose              | joint_visit      |
      | counterparts[1].kind | mission_military |
      | venue_kind           | community        |
    When 15 days pass
    Then COM-004 is raised as advice

  Scenario Outline: Near miss - outreach to communities within two weeks of the first flight
    Given an operation in SOM
    And the events happen in area SO-BN
    And an asset request is recorded:
      | field            | value            |
      | asset.kind       | helicopter       |
      | asset.owner_kind | mission_military |
    And 10 days pass
    When a meeting is recorded:
      | field      | value     |
      | purpose    | <purpose> |
      | venue_kind | community |
    And 10 days pass
    Then COM-004 is not raised

    Examples:
      | purpose                 |
      | community_sensitisation |
      | acceptance_outreach     |
      | access_negotiation      |

  Scenario: A later escort neither pushes back the deadline set by the first flight nor starts one of its own
    Given an operation in SOM
    And the events happen in area SO-BN
    And an asset request is recorded:
      | field            | value            |
      | asset.kind       | helicopter       |
      | asset.owner_kind | mission_military |
    And 10 days pass
    And an escort request is recorded:
      | field         | value            |
      | armed         | yes              |
      | provider.kind | mission_military |
    When 5 days pass
    Then COM-004 is raised once
    And COM-004 is raised as advice
    When 10 days pass
    Then COM-004 is not raised

  Scenario: Outreach in another district does not count
    Given an operation in SOM
    And the events happen in area SO-BN
    And an asset request is recorded:
      | field            | value            |
      | asset.kind       | helicopter       |
      | asset.owner_kind | mission_military |
    And 5 days pass
    And the events happen in area SO-SA
    When a meeting is recorded:
      | field   | value                   |
      | purpose | community_sensitisation |
    And 10 days pass
    Then COM-004 is raised as advice

  Scenario: Another agency's outreach does not count for the organisation that flew
    Given an operation in SOM
    And the events happen in area SO-BN
    And an asset request is recorded:
      | field            | value            |
      | asset.kind       | helicopter       |
      | asset.owner_kind | mission_military |
    And 5 days pass
    And the organisation is org-7, a un_agency
    When a meeting is recorded:
      | field   | value                   |
      | purpose | community_sensitisation |
    And 10 days pass
    Then COM-004 is raised as advice

  Scenario: A coordination meeting at the mission base is not outreach
    Given an operation in SOM
    And the events happen in area SO-BN
    And an asset request is recorded:
      | field            | value            |
      | asset.kind       | helicopter       |
      | asset.owner_kind | mission_military |
    And 5 days pass
    When a meeting is recorded:
      | field                | value             |
      | purpose              | coordination      |
      | counterparts[1].kind | mission_political |
      | venue_kind           | mission_base      |
    And 10 days pass
    Then COM-004 is raised as advice

  Scenario: Near miss - staff fly with UNHAS, not with the mission
    Given an operation in SOM
    And the events happen in area SO-BN
    And a movement request is recorded:
      | field                   | value     |
      | mode                    | air       |
      | transport_provider.kind | unhas     |
      | status                  | requested |
    When 15 days pass
    Then COM-004 is not raised

  Scenario: Near miss - a civil-military coordination meeting at the mission base starts no deadline
    Given an operation in SOM
    And the events happen in area SO-BN
    And a meeting is recorded:
      | field                | value            |
      | purpose              | deconfliction    |
      | counterparts[1].kind | mission_military |
      | venue_kind           | mission_base     |
    When 15 days pass
    Then COM-004 is not raised
