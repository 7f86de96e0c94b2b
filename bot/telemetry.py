"""Optional export of the log to Azure Application Insights.

When APPLICATIONINSIGHTS_CONNECTION_STRING is set (the Azure deployment sets it), every
log record also goes to Application Insights as a trace, with the same ids (request,
activity, message) as attributes, so a request can be followed to its deliveries there.
Without it nothing is loaded. The SDK's own usage statistics are not sent.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from bot.logs import ContextFilter


def export_logs(connection_string: str, level: int) -> Callable[[], None]:
    """Attaches an Application Insights exporter to the root logger; returns its shutdown."""
    os.environ.setdefault("APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL", "true")
    from azure.monitor.opentelemetry.exporter import AzureMonitorLogExporter
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    provider = LoggerProvider(resource=Resource.create({"service.name": "send"}))
    exporter = AzureMonitorLogExporter(
        connection_string=connection_string, disable_offline_storage=True
    )
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    handler = LoggingHandler(level=level, logger_provider=provider)
    handler.addFilter(ContextFilter())
    logging.getLogger().addHandler(handler)

    def shutdown() -> None:
        logging.getLogger().removeHandler(handler)
        provider.shutdown()

    return shutdown
