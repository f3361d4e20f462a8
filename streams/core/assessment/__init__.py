"""The assessment (考核) core: the ledger of breaches and fines, made from alerts. Pure."""
