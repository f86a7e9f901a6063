"""The adapters bundled with mandate-rules: KoboToolbox, Primero and CommCare HQ.

Installed as the package ``mandate_rules_adapters`` and registered under the entry-point
group ``mandate_rules.adapters`` exactly as a third-party adapter would be. Each depends only
on mandate_rules' event and advisory models and its adapter contract, never on the engine.
"""
