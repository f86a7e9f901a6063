Feature: Military and mission assets (AST)
  Military and civil defence assets are a last resort: they are requested only where no comparable
  civilian alternative exists and only they can meet a critical humanitarian need in time (Oslo
  Guidelines para 5; the MCDA Guidelines for complex emergencies). Their use is limited in time,
  routed through the Humanitarian Coordinator, and kept under humanitarian control; soldiers do not
  hand out aid themselves in a conflict (CATALOG.md §1.2, §4.3).

  The seed article (OCHA, 10 January 2012) calls the sharing of planes and vehicles with an
  integrated mission an opportunity, but asks aid workers to use mission assets only as a last
  resort; its photograph shows a food distribution supervised by a battalion of the UN mission in
  Haiti. In the Somalia-like profile (SOM) the mission is seen as a party to the conflict and UNHAS
  flies Mogadishu-Baidoa (MGQ-BDW) with 48 hours' notice. PHL is a typhoon response, where foreign
  military assets come at the request of the affected State.

  # AST-001: military asset requested without last-resort justification

  Scenario: An NGO asks for a mission helicopter and says nothing about civilian options
    Given an operation in SOM
    When an asset request is recorded:
      | field            | value            |
      | asset.kind       | helicopter       |
      | asset.owner_kind | mission_military |
      | route.id         | MGQ-BDW          |
      | needed_within_h  | 24               |
    Then AST-001 is raised as critical
    And the advice of AST-001 mentions "last resort"
    And the explanation of AST-001 mentions "complex emergency"

  Scenario: After the typhoon, a foreign military helicopter is requested without justification
    Given an operation in PHL
    When an asset request is recorded:
      | field                         | value                      |
      | asset.kind                    | helicopter                 |
      | asset.owner_kind              | foreign_military           |
      | justification.critical_need   | yes                        |
      | justification.timeliness_note | Roads to the coast are cut |
    Then AST-001 is raised as warning

  Scenario: Staff travel on a national army truck in an area where no party flag is raised
    Given an operation in SOM
    And the events happen in area SO-SA
    When a movement request is recorded:
      | field                   | value             |
      | mode                    | road              |
      | transport_provider.kind | national_military |
      | status                  | requested         |
    Then AST-001 is raised as warning

  Scenario: Near miss - the last resort is justified in full
    Given an operation in SOM
    When an asset request is recorded:
      | field                                        | value                               |
      | asset.kind                                   | helicopter                          |
      | asset.owner_kind                             | mission_military                    |
      | justification.critical_need                  | yes                                 |
      | justification.civilian_alternatives_checked  | UNHAS, commercial charter           |
      | justification.civilian_alternative_available | no                                  |
      | justification.unique_capability              | Night landing at a flooded airstrip |
    Then AST-001 is not raised

  Scenario Outline: Near miss - no justification is needed for <why>
    Given an operation in SOM
    When an asset request is recorded:
      | field            | value     |
      | asset.kind       | <kind>    |
      | asset.owner_kind | <owner>   |
      | medevac          | <medevac> |
    Then AST-001 is not raised

    Examples:
      | why                                  | kind       | owner            | medevac |
      | a medical evacuation                 | helicopter | mission_military | yes     |
      | a civilian plane, not a military one | fixed_wing | unhas            | no      |

  # AST-002: comparable civilian alternative available

  Scenario: UNHAS flies the route in time, but the mission's plane is requested
    Given an operation in SOM
    When an asset request is recorded:
      | field            | value            |
      | asset.kind       | fixed_wing       |
      | asset.owner_kind | mission_military |
      | route.id         | MGQ-BDW          |
      | needed_within_h  | 72               |
    Then AST-002 is raised as warning
    And the advice of AST-002 mentions "covers this route in time"

  Scenario: Staff ask to fly with the mission on a route UNHAS serves
    Given an operation in SOM
    When a movement request is recorded:
      | field                   | value            |
      | mode                    | air              |
      | route.id                | MGQ-BDW          |
      | transport_provider.kind | mission_military |
      | status                  | requested        |
    Then AST-002 is raised as warning

  Scenario: A humanitarian truck fleet the scenario adds covers the road
    Given an operation in SOM
    And a civilian alternative:
      | field       | value              |
      | mode        | truck              |
      | provider    | humanitarian_fleet |
      | routes      | BDW-BAI            |
      | lead_time_h | 12                 |
    When an asset request is recorded:
      | field            | value             |
      | asset.kind       | truck             |
      | asset.owner_kind | national_military |
      | route.id         | BDW-BAI           |
      | needed_within_h  | 24                |
    Then AST-002 is raised as warning

  Scenario Outline: Near miss - the civilian service cannot do it (<why>)
    Given an operation in SOM
    When an asset request is recorded:
      | field            | value            |
      | asset.kind       | <kind>           |
      | asset.owner_kind | mission_military |
      | route.id         | <route>          |
      | needed_within_h  | <hours>          |
    Then AST-002 is not raised

    Examples:
      | why                                 | kind       | route   | hours |
      | needed in 24 hours, UNHAS needs 48  | fixed_wing | MGQ-BDW | 24    |
      | UNHAS does not fly this route       | fixed_wing | MGQ-KSM | 72    |
      | no civilian helicopter on the route | helicopter | MGQ-BDW | 72    |

  # AST-003: no end date or exit plan for military asset use

  Scenario Outline: Military support with no limit in time or no hand-over (<problem>)
    Given an operation in PHL
    When an asset request is recorded:
      | field            | value            |
      | asset.kind       | engineering      |
      | asset.owner_kind | foreign_military |
      | period.start     | now              |
      | period.end       | <end>            |
      | exit_plan        | <exit plan>      |
    Then AST-003 is raised as warning
    And the advice of AST-003 mentions "limited in time and scope"

    Examples:
      | problem               | end      | exit plan                                          |
      | no end date           |          | Hand the bridge works to the public works ministry |
      | 45 days, more than 30 | +45 days | Hand the bridge works to the public works ministry |
      | no exit plan          | +20 days |                                                    |

  Scenario: Near miss - twenty days, with a plan to hand the task back
    Given an operation in PHL
    When an asset request is recorded:
      | field            | value                                              |
      | asset.kind       | engineering                                        |
      | asset.owner_kind | foreign_military                                   |
      | period.start     | now                                                |
      | period.end       | +20 days                                           |
      | exit_plan        | Hand the bridge works to the public works ministry |
    Then AST-003 is not raised

  # AST-004: military forces in direct assistance

  Scenario: Soldiers of the mission hand out food themselves, in a conflict
    Given an operation in SOM
    When a distribution plan is recorded:
      | field           | value            |
      | site.id         | dist-bn-07       |
      | date            | +2 days          |
      | actors[1].kind  | ingo             |
      | actors[1].role  | selection        |
      | actors[2].kind  | mission_military |
      | actors[2].role  | distributing     |
      | actors[2].armed | yes              |
    Then AST-004 is raised as critical
    And the advice of AST-004 mentions "blurs military and humanitarian roles"

  Scenario: After the typhoon, foreign troops are asked to distribute, with no justification
    Given an operation in PHL
    When an asset request is recorded:
      | field            | value            |
      | asset.kind       | personnel        |
      | asset.owner_kind | foreign_military |
      | task_category    | direct           |
    Then AST-004 is raised as warning

  Scenario: After the typhoon, troops distribute as a justified last resort
    Given an operation in PHL
    When an asset request is recorded:
      | field                                        | value                                 |
      | asset.kind                                   | personnel                             |
      | asset.owner_kind                             | foreign_military                      |
      | task_category                                | direct                                |
      | justification.critical_need                  | yes                                   |
      | justification.civilian_alternatives_checked  | humanitarian_fleet, commercial        |
      | justification.civilian_alternative_available | no                                    |
      | justification.unique_capability              | Only the troops can reach the islands |
    Then AST-004 is raised as info

  Scenario Outline: Near miss - the military support stays away from the point of distribution (<how>)
    Given an operation in SOM
    When a distribution plan is recorded:
      | field          | value            |
      | site.id        | dist-bn-07       |
      | actors[1].kind | ingo             |
      | actors[1].role | distributing     |
      | actors[2].kind | mission_military |
      | actors[2].role | <role>           |
    Then AST-004 is not raised

    Examples:
      | how                       | role      |
      | trucks to the site        | logistics |
      | watching, not handing out | observer  |

  Scenario: Near miss - a military truck brings the food to the warehouse (indirect support)
    Given an operation in PHL
    When an asset request is recorded:
      | field            | value             |
      | asset.kind       | truck             |
      | asset.owner_kind | national_military |
      | task_category    | indirect          |
    Then AST-004 is not raised

  # AST-005: asset belongs to a belligerent or a unit engaged in combat

  Scenario Outline: A <owner> asset where that force is, or is seen as, a party
    Given an operation in SOM
    And the events happen in area SO-BN
    When an asset request is recorded:
      | field            | value      |
      | asset.kind       | helicopter |
      | asset.owner_kind | <owner>    |
    Then AST-005 is raised as critical
    And the advice of AST-005 mentions "fighting, or is seen to be"

    Examples:
      | owner             |
      | mission_military  |
      | national_military |

  Scenario: After the typhoon, a helicopter from a unit engaged in combat elsewhere
    Given an operation in PHL
    When an asset request is recorded:
      | field                         | value             |
      | asset.kind                    | helicopter        |
      | asset.owner_kind              | national_military |
      | asset.owner.engaged_in_combat | yes               |
    Then AST-005 is raised as critical

  Scenario: Staff are to ride in the mission's military vehicles
    Given an operation in SOM
    When a movement request is recorded:
      | field                   | value            |
      | mode                    | road             |
      | transport_provider.kind | mission_military |
      | status                  | requested        |
    Then AST-005 is raised as critical

  Scenario Outline: Near miss - the owner is not a party here (<where>)
    Given an operation in <operation>
    And the events happen in area <area>
    When an asset request is recorded:
      | field            | value      |
      | asset.kind       | helicopter |
      | asset.owner_kind | <owner>    |
    Then AST-005 is not raised

    Examples:
      | where                               | operation | area   | owner            |
      | the mission is not a party in SO-SA | SOM       | SO-SA  | mission_military |
      | foreign troops after the typhoon    | PHL       | PH-LEY | foreign_military |

  # AST-006: request bypasses the HC and CMCoord, or cedes humanitarian control

  Scenario: A military asset is asked for directly, not through the Humanitarian Coordinator
    Given an operation in PHL
    When an asset request is recorded:
      | field                     | value            |
      | asset.kind                | helicopter       |
      | asset.owner_kind          | foreign_military |
      | routing.via_hc            | no               |
      | routing.hct_informed      | no               |
      | control.tasking_by        | humanitarian     |
      | control.priorities_set_by | ocha             |
    Then AST-006 is raised as warning
    And the advice of AST-006 mentions "Humanitarians, not the military, decide"

  Scenario: The military would decide what is moved and for whom
    Given an operation in PHL
    When an asset request is recorded:
      | field                     | value            |
      | asset.kind                | helicopter       |
      | asset.owner_kind          | foreign_military |
      | routing.via_hc            | yes              |
      | routing.hct_informed      | yes              |
      | control.tasking_by        | military         |
      | control.priorities_set_by | foreign_military |
    Then AST-006 is raised as warning
    And the explanation of AST-006 mentions "control.tasking_by"

  Scenario: Near miss - routed through the HC, with humanitarian tasking and priorities
    Given an operation in PHL
    When an asset request is recorded:
      | field                     | value            |
      | asset.kind                | helicopter       |
      | asset.owner_kind          | foreign_military |
      | routing.via_hc            | yes              |
      | routing.hct_informed      | yes              |
      | routing.cmcoord_ref       | OSOCC-CMC-0142   |
      | control.tasking_by        | humanitarian     |
      | control.priorities_set_by | un_agency        |
    Then AST-006 is not raised

  # AST-007: repeated use of mission military flights or vehicles

  Scenario: The team flies with the mission again and again
    Given an operation in SOM
    And an asset request is recorded:
      | field            | value            |
      | asset.kind       | helicopter       |
      | asset.owner_kind | mission_military |
    And 5 days pass
    And a movement request is recorded:
      | field                   | value            |
      | mode                    | air              |
      | transport_provider.kind | mission_military |
      | status                  | requested        |
    And 5 days pass
    When an asset request is recorded:
      | field            | value            |
      | asset.kind       | helicopter       |
      | asset.owner_kind | mission_military |
    Then AST-007 is raised as advice
    And the explanation of AST-007 mentions "at least 3 such events"
    Given 2 days pass
    And an asset request is recorded:
      | field            | value            |
      | asset.kind       | helicopter       |
      | asset.owner_kind | mission_military |
    And an asset request is recorded:
      | field            | value            |
      | asset.kind       | fixed_wing       |
      | asset.owner_kind | mission_military |
    When 1 day passes
    And an asset request is recorded:
      | field            | value            |
      | asset.kind       | helicopter       |
      | asset.owner_kind | mission_military |
    Then AST-007 is raised once
    And AST-007 is raised as warning
    And the advice of AST-007 mentions "a sign of dependence"

  Scenario Outline: Near miss - the third request does not count (<why>)
    Given an operation in SOM
    And an asset request is recorded:
      | field            | value            |
      | asset.kind       | helicopter       |
      | asset.owner_kind | mission_military |
    And <gap> days pass
    And an asset request is recorded:
      | field            | value            |
      | asset.kind       | helicopter       |
      | asset.owner_kind | mission_military |
    And <gap> days pass
    And the organisation is <organisation>
    When an asset request is recorded:
      | field            | value            |
      | asset.kind       | helicopter       |
      | asset.owner_kind | mission_military |
      | medevac          | <medevac>        |
    Then AST-007 is not raised

    Examples:
      | why                                 | gap | organisation   | medevac |
      | it is a medical evacuation          | 5   | org-1, an ingo | yes     |
      | the flights are spread over 32 days | 16  | org-1, an ingo | no      |
      | another organisation flies          | 5   | ngo-2, an nngo | no      |

  # AST-008: mission civilian logistics: an opportunity, with checks

  Scenario: A seat on the mission's contracted civilian plane, where the mission is seen as a party
    Given an operation in SOM
    When an asset request is recorded:
      | field            | value            |
      | asset.kind       | fixed_wing       |
      | asset.owner_kind | mission_civilian |
    Then AST-008 is raised as advice
    And the advice of AST-008 mentions "sensible use of resources"

  Scenario: The mission's civilian trucks, where nothing is known of the context
    Given an operation with no context profile
    When a movement request is recorded:
      | field                   | value            |
      | mode                    | road             |
      | transport_provider.kind | mission_civilian |
      | status                  | requested        |
    Then AST-008 is raised as info
    And AST-008 says the context was unknown

  Scenario: Near miss - staff fly UNHAS
    Given an operation in SOM
    When a movement request is recorded:
      | field                   | value     |
      | mode                    | air       |
      | route.id                | MGQ-BDW   |
      | transport_provider.kind | unhas     |
      | status                  | requested |
    Then AST-008 is not raised

  # AST-009: foreign military assets in a disaster without State consent or HC coordination

  Scenario Outline: After the typhoon, a foreign military asset <gap>
    Given an operation in PHL
    When an asset request is recorded:
      | field                  | value     |
      | asset.kind             | <kind>    |
      | asset.owner_kind       | <owner>   |
      | affected_state_consent | <consent> |
      | routing.via_hc         | <via HC>  |
    Then AST-009 is raised as warning
    And the advice of AST-009 mentions "consent of the affected State"

    Examples:
      | gap                                   | kind       | owner            | consent | via HC |
      | without the State's consent           | helicopter | foreign_military | no      | yes    |
      | not registered with the HC            | boat       | civil_defence    | yes     | no     |
      | with neither consent nor coordination | fixed_wing | foreign_military |         |        |

  Scenario: The scenario says it is a natural disaster, where no profile is shipped
    Given an operation in VUT
    And the emergency is a natural disaster
    When an asset request is recorded:
      | field            | value            |
      | asset.kind       | helicopter       |
      | asset.owner_kind | foreign_military |
      | routing.via_hc   | yes              |
    Then AST-009 is raised as warning

  Scenario Outline: Near miss - foreign military help in order, or not a disaster: <why>
    Given an operation in <operation>
    When an asset request is recorded:
      | field                  | value            |
      | asset.kind             | helicopter       |
      | asset.owner_kind       | foreign_military |
      | affected_state_consent | yes              |
      | routing.via_hc         | <via HC>         |
    Then AST-009 is not raised

    Examples:
      | why                                                   | operation | via HC |
      | the State consents and the HC coordinates             | PHL       | yes    |
      | a conflict, where the MCDA Guidelines apply, not Oslo | SOM       | no     |
