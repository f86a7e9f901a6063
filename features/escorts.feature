Feature: Armed escorts (ESC)
  Humanitarian convoys normally travel without armed escorts. The IASC guidelines on armed escorts
  (2013) allow one only as a last resort, in exceptional cases, when the need is critical, the
  authorities cannot provide security, a security risk assessment shows the escort lowers the risk
  and using it will not damage access later (CATALOG.md §1.1, §4.2).

  The seed article (OCHA, 10 January 2012) shows why this matters in an integrated operation: in
  Somalia an armed group declared the UN and "any of its institutions and affiliates" illegitimate
  after UN support to the AMISOM force, and the study it reports asks aid workers to use mission
  assets, "especially armed escorts", only as a last resort. Our Somalia-like profile (SOM) has a
  structurally integrated UN presence, a mission seen as a party to the conflict (a party outright
  in area SO-BN), state forces that are a party, and armed actors who declared the UN illegitimate.
  In area SO-SA no party flag is raised. PHL is a typhoon response with no mission.

  # ESC-001: armed escort requested without documented alternatives

  Scenario: An NGO asks the mission's soldiers for an escort after trying only another route
    Given an operation in SOM
    And the events happen in area SO-BN
    When an escort request is recorded:
      | field                      | value                              |
      | armed                      | yes                                |
      | provider.kind              | mission_military                   |
      | route.id                   | MGQ-BDW                            |
      | alternatives_considered    | route_change                       |
      | criteria.humanitarian_need | Cholera supplies for 40,000 people |
    Then ESC-001 is raised as critical
    And the advice of ESC-001 mentions "write down what you tried first"
    And the explanation of ESC-001 mentions "acceptance_negotiation"
    And ESC-004 is raised as critical

  Scenario Outline: The same request, where the context does or does not raise the level
    Given an operation in <operation>
    And the events happen in area <area>
    When an escort request is recorded:
      | field                   | value           |
      | armed                   | yes             |
      | provider.kind           | national_police |
      | alternatives_considered | timing_change   |
    Then ESC-001 is raised as <severity>

    Examples:
      | operation | area   | severity | why                                                     |
      | SOM       | SO-BN  | critical | the mission is a party and the UN declared illegitimate |
      | SOM       | SO-SA  | warning  | no party flag is raised in this area                    |
      | PHL       | PH-LEY | warning  | a typhoon response with no mission                      |

  Scenario: Where nothing is known of the context, the advisory says so
    Given an operation with no context profile
    When an escort request is recorded:
      | field         | value           |
      | armed         | yes             |
      | provider.kind | national_police |
    Then ESC-001 is raised as warning
    And ESC-001 says the context was unknown

  Scenario: A movement asks for an escort but no escort request documents the alternatives
    Given an operation in SOM
    When a movement request is recorded:
      | field                  | value        |
      | mode                   | road         |
      | route.id               | MGQ-BDW      |
      | vehicles[1].owner_kind | ingo         |
      | vehicles[1].markings   | humanitarian |
      | escort.requested       | yes          |
      | status                 | requested    |
    Then ESC-001 is raised as critical

  Scenario: Near miss - acceptance was negotiated first, and the escort is the last resort
    Given an operation in SOM
    When an escort request is recorded:
      | field                   | value                                          |
      | armed                   | yes                                            |
      | provider.kind           | national_police                                |
      | alternatives_considered | acceptance_negotiation, route_change, postpone |
    Then ESC-001 is not raised

  Scenario: Near miss - an unarmed accompaniment is not an armed escort
    Given an operation in SOM
    When an escort request is recorded:
      | field                   | value            |
      | armed                   | no               |
      | provider.kind           | mission_civilian |
      | alternatives_considered | route_change     |
    Then ESC-001 is not raised

  Scenario: Near miss - the movement points to the escort request where the alternatives are
    Given an operation in SOM
    When a movement request is recorded:
      | field                  | value        |
      | mode                   | road         |
      | route.id               | MGQ-BDW      |
      | vehicles[1].owner_kind | ingo         |
      | vehicles[1].markings   | humanitarian |
      | escort.requested       | yes          |
      | escort.request_id      | esc-1        |
      | status                 | requested    |
    Then ESC-001 is not raised

  # ESC-002: exceptional-use criteria incomplete

  Scenario: An escort is requested without a security risk assessment
    Given an operation in SOM
    When an escort request is recorded:
      | field                                   | value                                   |
      | armed                                   | yes                                     |
      | provider.kind                           | national_police                         |
      | alternatives_considered                 | acceptance_negotiation                  |
      | criteria.humanitarian_need              | Cholera supplies for 40,000 people      |
      | criteria.programme_criticality          | PC1                                     |
      | criteria.responsible_authorities_unable | yes                                     |
      | criteria.sustainability                 | Access talks continue; reviewed monthly |
    Then ESC-002 is raised as warning
    And the explanation of ESC-002 mentions "criteria.sra_ref is missing"

  Scenario: An escort is approved with criteria missing and no rationale on record
    Given an operation in SOM
    When an escort request is recorded:
      | field                          | value                              |
      | armed                          | yes                                |
      | provider.kind                  | national_police                    |
      | alternatives_considered        | acceptance_negotiation             |
      | criteria.humanitarian_need     | Cholera supplies for 40,000 people |
      | criteria.programme_criticality | PC1                                |
      | decision.status                | approved                           |
      | decision.authority             | ngo_country_director               |
    Then ESC-002 is raised as critical
    And the explanation of ESC-002 mentions "approved with criteria missing"

  Scenario: Approved with a criterion missing, but the reason is written down
    Given an operation in SOM
    When an escort request is recorded:
      | field                                   | value                                      |
      | armed                                   | yes                                        |
      | provider.kind                           | national_police                            |
      | alternatives_considered                 | acceptance_negotiation                     |
      | criteria.humanitarian_need              | Cholera supplies for 40,000 people         |
      | criteria.programme_criticality          | PC1                                        |
      | decision.status                         | approved                                   |
      | decision.not_all_criteria_met_rationale | No SRA possible in time; the DO is briefed |
    Then ESC-002 is raised as warning

  Scenario: Near miss - all four criteria are written down
    Given an operation in SOM
    When an escort request is recorded:
      | field                                   | value                                   |
      | armed                                   | yes                                     |
      | provider.kind                           | national_police                         |
      | alternatives_considered                 | acceptance_negotiation                  |
      | criteria.humanitarian_need              | Cholera supplies for 40,000 people      |
      | criteria.programme_criticality          | PC1                                     |
      | criteria.responsible_authorities_unable | no                                      |
      | criteria.sra_ref                        | SRA-2026-114                            |
      | criteria.sustainability                 | Access talks continue; reviewed monthly |
    Then ESC-002 is not raised

  # ESC-003: decision authority or common humanitarian position missing

  Scenario: A UN agency's escort is approved by the agency head, not the Designated Official
    Given an operation in SOM
    And the organisation is wfp-som, a un_agency
    When an escort request is recorded:
      | field                  | value           |
      | armed                  | yes             |
      | provider.kind          | national_police |
      | decision.status        | approved        |
      | decision.authority     | agency_head     |
      | decision.hct_consulted | yes             |
    Then ESC-003 is raised as warning
    And the advice of ESC-003 mentions "the Designated Official decides"

  Scenario: An escort request gets a reminder of who decides
    Given an operation in SOM
    When an escort request is recorded:
      | field           | value           |
      | armed           | yes             |
      | provider.kind   | national_police |
      | decision.status | requested       |
    Then ESC-003 is raised as info
    And the advice of ESC-003 mentions "Who will decide on this escort?"

  Scenario: After the typhoon there is no common humanitarian position on escorts
    Given an operation in PHL
    And the organisation is wfp-phl, a un_agency
    When an escort request is recorded:
      | field                  | value               |
      | armed                  | yes                 |
      | provider.kind          | national_police     |
      | decision.status        | approved            |
      | decision.authority     | designated_official |
      | decision.hct_consulted | yes                 |
    Then ESC-003 is raised as warning
    And the explanation of ESC-003 mentions "hct_position_on_escorts_ref"

  Scenario: Near miss - the Designated Official approves, after consulting the HCT
    Given an operation in SOM
    And the organisation is wfp-som, a un_agency
    When an escort request is recorded:
      | field                  | value               |
      | armed                  | yes                 |
      | provider.kind          | national_police     |
      | decision.status        | approved            |
      | decision.authority     | designated_official |
      | decision.hct_consulted | yes                 |
    Then ESC-003 is not raised

  # ESC-004: escort provider is, or is seen as, a party to the conflict

  Scenario: An escort from a force seen as a party to the conflict
    Given an operation in SOM
    When an escort request is recorded:
      | field                   | value            |
      | armed                   | yes              |
      | provider.kind           | mission_military |
      | alternatives_considered | route_change     |
    Then ESC-004 is raised as critical
    And the advice of ESC-004 mentions "one side in the fighting"

  Scenario: An escort by the national police where state forces are a party
    Given an operation in SOM
    When an escort request is recorded:
      | field                   | value                  |
      | armed                   | yes                    |
      | provider.kind           | national_police        |
      | alternatives_considered | acceptance_negotiation |
    Then ESC-004 is raised as critical
    And the explanation of ESC-004 mentions "state_forces_party"

  Scenario: The provider itself is declared a party, even where nothing else is known
    Given an operation with no context profile
    When an escort request is recorded:
      | field                      | value             |
      | armed                      | yes               |
      | provider.kind              | national_military |
      | provider.party_to_conflict | yes               |
    Then ESC-004 is raised as critical
    And ESC-004 says the context was unknown

  Scenario: The scenario says the mission is seen as a party, where no profile is shipped
    Given an operation in MLI
    And the mission is seen as a party to the conflict
    When an escort request is recorded:
      | field         | value          |
      | armed         | yes            |
      | provider.kind | mission_police |
    Then ESC-004 is raised as critical

  Scenario Outline: Near miss - the escort does not come from a party (<why>)
    Given an operation in <operation>
    And the events happen in area <area>
    When an escort request is recorded:
      | field         | value      |
      | armed         | <armed>    |
      | provider.kind | <provider> |
    Then ESC-004 is not raised

    Examples:
      | operation | area   | armed | provider         | why                                       |
      | SOM       | SO-SA  | yes   | national_police  | state forces are not a party in this area |
      | PHL       | PH-LEY | yes   | mission_police   | no mission is a party after the typhoon   |
      | SOM       | SO-BN  | no    | mission_military | an unarmed accompaniment                  |

  Scenario: Near miss - where nothing is known, no party flag can be read
    Given an operation with no context profile
    When an escort request is recorded:
      | field         | value            |
      | armed         | yes              |
      | provider.kind | mission_military |
    Then ESC-004 is not raised

  # ESC-005: escort by an armed group, a militia or a private security company

  Scenario Outline: An escort by a <provider>
    Given an operation in <operation>
    When an escort request is recorded:
      | field         | value      |
      | armed         | yes        |
      | provider.kind | <provider> |
      | provider.name | <name>     |
    Then ESC-005 is raised as <severity>

    Examples:
      | operation | provider         | name                  | severity |
      | SOM       | private_security | Secure Roads Ltd      | warning  |
      | SOM       | nsag             | the local armed group | critical |
      | PHL       | militia          | the barangay militia  | critical |

  Scenario: Near miss - the escort comes from the national police
    Given an operation in SOM
    When an escort request is recorded:
      | field         | value           |
      | armed         | yes             |
      | provider.kind | national_police |
    Then ESC-005 is not raised

  Scenario: Near miss - unarmed guides from a militia are not an armed escort
    Given an operation in SOM
    When an escort request is recorded:
      | field         | value   |
      | armed         | no      |
      | provider.kind | militia |
    Then ESC-005 is not raised

  # ESC-006: payment or in-kind compensation to the escort provider

  Scenario: Cash for a private security escort
    Given an operation in SOM
    When an escort request is recorded:
      | field                   | value            |
      | armed                   | yes              |
      | provider.kind           | private_security |
      | compensation.type       | cash             |
      | compensation.amount     | 2000             |
      | compensation.per_convoy | no               |
    Then ESC-006 is raised as warning
    And the advice of ESC-006 mentions "a market for insecurity"

  Scenario: Fuel for the escort, paid per convoy
    Given an operation in SOM
    When an escort request is recorded:
      | field                   | value           |
      | armed                   | yes             |
      | provider.kind           | national_police |
      | compensation.type       | fuel            |
      | compensation.per_convoy | yes             |
    Then ESC-006 is raised as critical
    And the explanation of ESC-006 mentions "paid per convoy"

  Scenario: Near miss - the escort is provided without payment
    Given an operation in SOM
    When an escort request is recorded:
      | field             | value   |
      | armed             | yes     |
      | provider.kind     | militia |
      | compensation.type | none    |
    Then ESC-006 is not raised

  # ESC-007: armed and humanitarian elements mixed in the convoy

  Scenario Outline: The escort is not kept visibly separate: <term>
    Given an operation in PHL
    When an escort request is recorded:
      | field                | value           |
      | armed                | yes             |
      | provider.kind        | national_police |
      | terms.convoy_command | humanitarian    |
      | <term>               | yes             |
    Then ESC-007 is raised as critical
    And the advice of ESC-007 mentions "visibly separate"

    Examples:
      | term                                      |
      | terms.interspersed                        |
      | terms.armed_in_humanitarian_vehicles      |
      | terms.escort_vehicles_humanitarian_marked |

  Scenario: An armed police officer rides in the NGO's marked vehicle
    Given an operation in SOM
    When a movement request is recorded:
      | field                   | value           |
      | mode                    | road            |
      | vehicles[1].owner_kind  | ingo            |
      | vehicles[1].markings    | humanitarian    |
      | passengers[1].org_kind  | ingo            |
      | passengers[1].armed     | no              |
      | passengers[2].org_kind  | national_police |
      | passengers[2].armed     | yes             |
      | passengers[2].uniformed | yes             |
      | escort.requested        | yes             |
      | escort.request_id       | esc-1           |
      | status                  | requested       |
    Then ESC-007 is raised as critical

  Scenario: Near miss - the escort keeps its own vehicles, unmarked, at a distance
    Given an operation in SOM
    When an escort request is recorded:
      | field                                     | value           |
      | armed                                     | yes             |
      | provider.kind                             | national_police |
      | terms.interspersed                        | no              |
      | terms.armed_in_humanitarian_vehicles      | no              |
      | terms.escort_vehicles_humanitarian_marked | no              |
      | terms.separation_m                        | 150             |
    Then ESC-007 is not raised

  Scenario: Near miss - armed police travel, but in their own vehicles only
    Given an operation in SOM
    When a movement request is recorded:
      | field                  | value           |
      | mode                   | road            |
      | vehicles[1].owner_kind | national_police |
      | vehicles[1].markings   | military        |
      | passengers[1].org_kind | national_police |
      | passengers[1].armed    | yes             |
      | status                 | requested       |
    Then ESC-007 is not raised

  # ESC-008: convoy command, written terms or separation not set

  Scenario Outline: The terms of the escort are not settled (<problem>)
    Given an operation in SOM
    When an escort request is recorded:
      | field                   | value           |
      | armed                   | yes             |
      | provider.kind           | national_police |
      | terms.written_agreement | <written>       |
      | terms.convoy_command    | <command>       |
      | terms.separation_m      | <distance>      |
    Then ESC-008 is raised as warning

    Examples:
      | problem                                | written | command      | distance |
      | no written agreement                   | no      | humanitarian | 150      |
      | the escort commands the convoy         | yes     | escort       | 150      |
      | no one named to command the convoy     | yes     |              | 150      |
      | 50 m apart, where the minimum is 100 m | yes     | humanitarian | 50       |
      | no separation agreed                   | yes     | humanitarian |          |

  Scenario: The scenario's own country guidance asks for 200 m
    Given an operation in SOM
    And the country guidance sets min_escort_separation_m to 200
    When an escort request is recorded:
      | field                   | value           |
      | armed                   | yes             |
      | provider.kind           | national_police |
      | terms.written_agreement | yes             |
      | terms.convoy_command    | humanitarian    |
      | terms.separation_m      | 150             |
    Then ESC-008 is raised as warning
    And the explanation of ESC-008 mentions "min_escort_separation_m"

  Scenario Outline: Near miss - terms in writing, a humanitarian in command, <distance> m apart in <operation>
    Given an operation in <operation>
    When an escort request is recorded:
      | field                   | value           |
      | armed                   | yes             |
      | provider.kind           | national_police |
      | terms.written_agreement | yes             |
      | terms.convoy_command    | humanitarian    |
      | terms.separation_m      | <distance>      |
    Then ESC-008 is not raised

    Examples:
      | operation | distance |
      | SOM       | 100      |
      | PHL       | 20       |

  # ESC-009: no review date or discontinuation plan

  Scenario: An escort is approved with no review date
    Given an operation in SOM
    When an escort request "esc-1" is recorded:
      | field                | value                                   |
      | armed                | yes                                     |
      | provider.kind        | national_police                         |
      | decision.status      | approved                                |
      | review.exit_criteria | Stop when the road has had 30 calm days |
    Then ESC-009 is raised as warning
    And the advice of ESC-009 mentions "Set a review date"

  Scenario: The review date passes and no review is recorded
    Given an operation in SOM
    And an escort request "esc-1" is recorded:
      | field                | value                                   |
      | armed                | yes                                     |
      | provider.kind        | national_police                         |
      | decision.status      | approved                                |
      | review.date          | 2026-11-15                              |
      | review.exit_criteria | Stop when the road has had 30 calm days |
    When it is 2026-11-16
    Then ESC-009 is raised as warning
    And the advice of ESC-009 mentions "review is overdue"

  Scenario: Near miss - the review is held and recorded on the next version of the request
    Given an operation in SOM
    And an escort request "esc-1" is recorded:
      | field                | value                                   |
      | armed                | yes                                     |
      | provider.kind        | national_police                         |
      | decision.status      | approved                                |
      | review.date          | 2026-11-15                              |
      | review.exit_criteria | Stop when the road has had 30 calm days |
    And 13 days pass
    When an escort request "esc-1" is recorded:
      | field                | value                                   |
      | armed                | yes                                     |
      | provider.kind        | national_police                         |
      | decision.status      | approved                                |
      | review.date          | +30 days                                |
      | review.exit_criteria | Stop when the road has had 30 calm days |
      | review.outcome       | Criteria re-tested; continue one month  |
    And it is 2026-11-16
    Then ESC-009 is not raised

  Scenario: An approval stays active for more than 90 days without a review
    Given an operation in SOM
    And an escort request "esc-1" is recorded:
      | field                | value                                   |
      | armed                | yes                                     |
      | provider.kind        | national_police                         |
      | decision.status      | approved                                |
      | review.date          | 2027-06-01                              |
      | review.exit_criteria | Stop when the road has had 30 calm days |
    When 89 days pass
    Then ESC-009 is not raised
    When 2 days pass
    Then ESC-009 is raised as warning
    And the advice of ESC-009 mentions "approved for longer than the review horizon"

  Scenario: Near miss - the escort is withdrawn within 90 days
    Given an operation in SOM
    And an escort request "esc-1" is recorded:
      | field                | value                                   |
      | armed                | yes                                     |
      | provider.kind        | national_police                         |
      | decision.status      | approved                                |
      | review.date          | 2027-06-01                              |
      | review.exit_criteria | Stop when the road has had 30 calm days |
    And 50 days pass
    When an escort request "esc-1" is recorded:
      | field           | value           |
      | armed           | yes             |
      | provider.kind   | national_police |
      | decision.status | withdrawn       |
    And 50 days pass
    Then ESC-009 is not raised

  # ESC-010: escorts becoming routine on a route

  Scenario: The third escorted trip on the same road within 30 days
    Given an operation in SOM
    And a movement request is recorded:
      | field                | value     |
      | route.id             | MGQ-BDW   |
      | escort.requested     | yes       |
      | escort.request_id    | esc-1     |
      | status               | completed |
      | debrief.submitted_at | +1 day    |
    And 14 days pass
    And a movement request is recorded:
      | field                | value     |
      | route.id             | MGQ-BDW   |
      | escort.request_id    | esc-1     |
      | status               | completed |
      | debrief.submitted_at | +1 day    |
    And 14 days pass
    When a movement request is recorded:
      | field                | value     |
      | route.id             | MGQ-BDW   |
      | escort.request_id    | esc-1     |
      | status               | completed |
      | debrief.submitted_at | +1 day    |
    Then ESC-010 is raised as warning
    And the advice of ESC-010 mentions "becoming routine"
    And the explanation of ESC-010 mentions "within 30 days"

  Scenario: An escort approval on a road stays in force for more than 90 days
    Given an operation in SOM
    And an escort request "esc-1" is recorded:
      | field                | value                                   |
      | armed                | yes                                     |
      | provider.kind        | national_police                         |
      | route.id             | MGQ-BDW                                 |
      | decision.status      | approved                                |
      | review.date          | 2027-06-01                              |
      | review.exit_criteria | Stop when the road has had 30 calm days |
    When 91 days pass
    Then ESC-010 is raised as warning

  Scenario Outline: Near miss - three escorted trips, but <why>
    Given an operation in SOM
    And a movement request is recorded:
      | field             | value     |
      | route.id          | MGQ-BDW   |
      | escort.request_id | esc-1     |
      | status            | completed |
    And <gap> days pass
    And a movement request is recorded:
      | field             | value     |
      | route.id          | MGQ-BDW   |
      | escort.request_id | esc-1     |
      | status            | completed |
    And <gap> days pass
    When a movement request is recorded:
      | field             | value     |
      | route.id          | <route>   |
      | escort.request_id | esc-1     |
      | status            | completed |
    Then ESC-010 is not raised

    Examples:
      | why                              | gap | route   |
      | they are spread over 32 days     | 16  | MGQ-BDW |
      | the third one is on another road | 14  | MGQ-KSM |

  # ESC-011: escorted movement without debrief

  Scenario: An escorted trip is completed and no debrief follows within 72 hours
    Given an operation in SOM
    And a movement request "mov-1" is recorded:
      | field             | value     |
      | route.id          | MGQ-BDW   |
      | escort.requested  | yes       |
      | escort.request_id | esc-1     |
      | status            | completed |
      | completed_at      | now       |
    When 71 hours pass
    Then ESC-011 is not raised
    When 2 hours pass
    Then ESC-011 is raised as advice
    And the advice of ESC-011 mentions "no debrief"

  Scenario: Near miss - the debrief arrives the next day, as the next version of the trip
    Given an operation in SOM
    And a movement request "mov-1" is recorded:
      | field             | value     |
      | route.id          | MGQ-BDW   |
      | escort.request_id | esc-1     |
      | status            | completed |
      | completed_at      | now       |
    And 1 day passes
    When a movement request "mov-1" is recorded:
      | field                | value               |
      | route.id             | MGQ-BDW             |
      | escort.request_id    | esc-1               |
      | status               | completed           |
      | debrief.submitted_at | now                 |
      | debrief.incidents    | checkpoint at km 40 |
    And 4 days pass
    Then ESC-011 is not raised

  Scenario: A trip known only by its subject, as KoboToolbox sends it, gets no debrief in 72 hours
    Given an operation in SOM
    And a movement request "kobo-mov-77" is recorded with its id only in the subject:
      | field             | value     |
      | route.id          | MGQ-BDW   |
      | escort.requested  | yes       |
      | escort.request_id | esc-1     |
      | status            | completed |
      | completed_at      | now       |
    When 79 hours pass
    Then ESC-011 is raised once
    And ESC-011 is raised as advice

  Scenario: Near miss - the debrief arrives the next day, under the same subject only
    Given an operation in SOM
    And a movement request "kobo-mov-77" is recorded with its id only in the subject:
      | field             | value     |
      | route.id          | MGQ-BDW   |
      | escort.requested  | yes       |
      | escort.request_id | esc-1     |
      | status            | completed |
      | completed_at      | now       |
    And 1 day passes
    When a movement request "kobo-mov-77" is recorded with its id only in the subject:
      | field                | value               |
      | route.id             | MGQ-BDW             |
      | escort.requested     | yes                 |
      | escort.request_id    | esc-1               |
      | status               | completed           |
      | debrief.submitted_at | now                 |
      | debrief.incidents    | checkpoint at km 40 |
    And 55 hours pass
    Then ESC-011 is not raised
