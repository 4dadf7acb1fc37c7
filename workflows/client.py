"""The one way to connect to Temporal: every client, worker and test uses `DATA_CONVERTER`, the
pydantic converter (bare datetimes and timedeltas are silently dropped by the default one; see
docs/temporal.md) with one type-adapter cache for the whole process."""

from __future__ import annotations

import functools

from pydantic import TypeAdapter
from temporalio.client import Client
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
)
from temporalio.runtime import Runtime

from core.settings import Settings
from workflows.observability import temporal_interceptors

_TYPE_ADAPTERS = functools.lru_cache(maxsize=1024)(TypeAdapter)


class _SharedCacheJSONConverter(PydanticJSONPlainPayloadConverter):
    """The SDK builds a payload converter per workflow instance, each with an empty adapter
    cache; building the adapter of a message dataclass costs milliseconds, on every instance's
    first update. One process-wide cache builds each once."""

    def __init__(self) -> None:
        super().__init__()
        self._type_adapter = _TYPE_ADAPTERS


_CONVERTERS = tuple(
    _SharedCacheJSONConverter() if isinstance(converter, JSONPlainPayloadConverter) else converter
    for converter in DefaultPayloadConverter.default_encoding_payload_converters
)


class PayloadConverter(CompositePayloadConverter):
    """The SDK builds one per workflow activation (with the activation's data converter); the
    encoding converters hold no per-call state, so every instance shares the same ones instead of
    building a pydantic serializer each time."""

    def __init__(self) -> None:
        super().__init__(*_CONVERTERS)


DATA_CONVERTER = DataConverter(payload_converter_class=PayloadConverter)


async def connect(settings: Settings, *, runtime: Runtime | None = None) -> Client:
    # runtime: the worker passes workflows.observability.worker_runtime(settings) for SDK metrics.
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=DATA_CONVERTER,
        interceptors=temporal_interceptors(settings),
        runtime=runtime,
    )
