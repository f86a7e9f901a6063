"""The adapters bundled with mandate-rules: KoboToolbox, Primero and CommCare HQ.

Installed as the package ``mandate_rules_adapters`` and registered under the entry-point
group ``mandate_rules.adapters`` exactly as a third-party adapter would be. Each imports only
the adapter SDK, ``mandate_rules.adapters`` (the contract, `SourceAdapter`, the HTTP client,
the event and advisory models), never the engine.
"""
