"""Connectors: ways for ERP and warehouse systems to reach OrderHub without a Kafka client.

Each connector is a pure decoder (bytes in, events and rejections out) and a thin shell
that publishes through a ``connectors.base.Sink``: ``csv_plan`` + ``filedrop`` for CSV
exports dropped into a folder, ``webhook`` for HTTP. One goes the other way:
``alertmanager`` pushes the alerts topic to Prometheus Alertmanager.
"""
