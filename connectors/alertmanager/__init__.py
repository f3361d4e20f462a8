"""The Alertmanager sink: the alerts topic, pushed to Prometheus Alertmanager's v2 API.

``orderhub connect alertmanager --url URL [--url URL …]`` runs ``sink.run``. Pure parts
first: ``mapping`` (an ``Alert`` as an Alertmanager alert), ``firing`` (the set of alerts
firing now, and its codec for the sink's compacted state topic), ``delivery`` (what each
Alertmanager still has to get, back-off, and the offset that may be committed). The shell:
``push`` (HTTP) and ``sink`` (Kafka, the loop).
"""
