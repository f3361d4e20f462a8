"""The assessment (考核) core: the ledger of breaches and fines, made from alerts
(``ledger``); the facts gathered from events (``facts``); the KPIs computed from both
(``kpis``). Pure: no Faust, Kafka, clock or environment."""
