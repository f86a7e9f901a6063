Feature: Movement and staff travel (MOV)
  Travelling in military vehicles or aircraft, or inside a military or escorted convoy, links aid
  workers to that force in people's eyes (CATALOG.md §4.4, MOV-001). Where the mission is seen as
  a party to the conflict and an armed group has declared the UN illegitimate, as in the seed
  article's Somalia, that link is the most serious. Aid vehicles keep a clear humanitarian
  identity unless the security risk assessment prescribes a low profile (MOV-002).

  # MOV-001: staff in military transport or in a military or escorted convoy

  Scenario: Staff fly to a district town on a mission military helicopter where the mission is seen as a party
    Given an operation in SOM
    And the events happen in area SO-BN
    When a movement request is recorded:
      | field                   | value            |
      | mode                    | air              |
      | route.origin            | Mogadishu        |
      | route.destination       | district town    |
      | transport_provider.kind | mission_military |
      | status                  | requested        |
    Then MOV-001 is raised as critical
    And the advice of MOV-001 mentions "links you to that force in people's eyes"
    And the explanation of MOV-001 mentions "transport_provider.kind"

  Scenario: The same helicopter flight in an area where the mission is not seen as a party
    Given an operation in SOM
    And the events happen in area SO-SA
    When a movement request is recorded:
      | field                   | value            |
      | mode                    | air              |
      | transport_provider.kind | mission_military |
      | status                  | requested        |
    Then MOV-001 is raised as warning

  Scenario: After a typhoon, relief staff ride on a foreign military aircraft
    Given an operation in PHL
    When a movement request is recorded:
      | field                   | value            |
      | mode                    | air              |
      | transport_provider.kind | foreign_military |
      | status                  | requested        |
    Then MOV-001 is raised as warning

  Scenario: Trucks joining a mission convoy where armed actors are hostile to the UN
    Given an operation with no context profile
    And the emergency is a complex emergency
    And armed actors are hostile to the UN
    When a movement request is recorded:
      | field                  | value            |
      | mode                   | road             |
      | vehicles[1].owner_kind | ingo             |
      | vehicles[1].markings   | humanitarian     |
      | joins_convoy_of        | mission_military |
      | status                 | requested        |
    Then MOV-001 is raised as critical
    And the explanation of MOV-001 mentions "complex emergency"

  Scenario Outline: Three ways of travelling with an armed force, where nothing is known of the context
    Given an operation with no context profile
    When a movement request is recorded:
      | field   | value     |
      | mode    | road      |
      | <field> | <kind>    |
      | status  | requested |
    Then MOV-001 is raised as warning
    And MOV-001 says the context was unknown

    Examples:
      | field                   | kind              | why                                    |
      | transport_provider.kind | national_military | staff ride in an army truck            |
      | joins_convoy_of         | mission_military  | trucks join a mission military convoy  |
      | joins_convoy_of         | mission_police    | trucks join a convoy led by UN police  |
      | joins_convoy_of         | nsag              | trucks join an armed group's convoy    |
      | vehicles[1].owner_kind  | foreign_military  | a foreign military vehicle in the trip |

  Scenario: Near miss - staff fly on the mission's contracted civilian aircraft
    Given an operation in SOM
    And the events happen in area SO-BN
    When a movement request is recorded:
      | field                   | value            |
      | mode                    | air              |
      | transport_provider.kind | mission_civilian |
      | status                  | requested        |
    Then MOV-001 is not raised
    And AST-008 is raised

  Scenario: Near miss - the organisation's trucks join another NGO's convoy
    Given an operation in SOM
    And the events happen in area SO-BN
    When a movement request is recorded:
      | field                   | value        |
      | mode                    | road         |
      | vehicles[1].owner_kind  | ingo         |
      | vehicles[1].markings    | humanitarian |
      | transport_provider.kind | ingo         |
      | joins_convoy_of         | ingo         |
      | status                  | requested    |
    Then MOV-001 is not raised

  # MOV-002: weak humanitarian identity on vehicles

  Scenario Outline: An aid truck in a convoy carries no clear humanitarian identity
    Given an operation in SOM
    And the events happen in area SO-BN
    When a movement request is recorded:
      | field                  | value        |
      | mode                   | road         |
      | vehicles[1].owner_kind | ingo         |
      | vehicles[1].markings   | humanitarian |
      | vehicles[2].owner_kind | ingo         |
      | vehicles[2].markings   | <markings>   |
      | status                 | requested    |
    Then MOV-002 is raised as advice
    And the advice of MOV-002 mentions "unless your security plan calls for a low profile"

    Examples:
      | markings |
      | unmarked |
      | military |
      | mission  |

  Scenario: Near miss - the security risk assessment prescribes a low profile
    Given an operation in SOM
    And the events happen in area SO-BN
    When a movement request is recorded:
      | field                  | value     |
      | mode                   | road      |
      | vehicles[1].owner_kind | ingo      |
      | vehicles[1].markings   | unmarked  |
      | low_profile            | yes       |
      | sra_ref                | SRA-BN-12 |
      | status                 | requested |
    Then MOV-002 is not raised

  Scenario: Near miss - every aid truck is marked as humanitarian
    Given an operation in SOM
    And the events happen in area SO-BN
    When a movement request is recorded:
      | field                  | value        |
      | mode                   | road         |
      | vehicles[1].owner_kind | ingo         |
      | vehicles[1].markings   | humanitarian |
      | vehicles[2].owner_kind | un_agency    |
      | vehicles[2].markings   | un           |
      | low_profile            | no           |
      | status                 | requested    |
    Then MOV-002 is not raised

  Scenario: Near miss - an army truck in army markings is not an aid vehicle with a weak identity
    Given an operation in PHL
    When a movement request is recorded:
      | field                  | value             |
      | mode                   | road              |
      | vehicles[1].owner_kind | national_military |
      | vehicles[1].markings   | military          |
      | status                 | requested         |
    Then MOV-002 is not raised
    And COM-003 is not raised
    And MOV-001 is raised as warning
