"""The assessment (考核): facts gathered from events, and the KPIs computed from them and the
ledger. Pure: no Faust, Kafka, clock or environment."""
