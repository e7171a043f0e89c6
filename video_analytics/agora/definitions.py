"""Agora's contribution to the platform: assets, schedule, the log resource."""

from __future__ import annotations

import json
import os

import dagster as dg

from video_analytics.agora import assets, custom_fields
from video_analytics.agora.resources import AgoraCustomField, AgoraLogsResource
from video_analytics.settings import Settings, SettingsError
from video_analytics.storage.targets import storage_kind, with_storage_kind


def storage_options() -> dict[str, str]:
    raw = os.environ.get("AGORA_LOG_STORAGE_OPTIONS")
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"AGORA_LOG_STORAGE_OPTIONS is not valid JSON: {exc.msg}") from exc
    if not isinstance(parsed, dict):
        raise SettingsError("AGORA_LOG_STORAGE_OPTIONS must be a JSON object of fsspec options")
    return {str(k): str(v) for k, v in parsed.items()}


def configured_custom_fields() -> list[AgoraCustomField]:
    """AGORA_CUSTOM_FIELDS: a JSON list of {key, column, aggregate} (checked again against the output
    columns when the run starts)."""
    try:
        fields = custom_fields.parse_setting(os.environ.get(custom_fields.SETTING))
    except custom_fields.CustomFieldError as exc:
        raise SettingsError(str(exc)) from exc
    return [AgoraCustomField(key=f.key, column=f.column, aggregate=f.aggregate) for f in fields]


def resource(settings: Settings) -> AgoraLogsResource:
    """The log root is read at run time (EnvVar): definitions load even where it is not set. GeoIP
    databases and custom fields are optional settings (docs/agora.md)."""
    return AgoraLogsResource(
        log_root=dg.EnvVar("AGORA_LOG_ROOT"),
        storage_options=storage_options(),
        geoip_database=os.environ.get("AGORA_GEOIP_DATABASE") or None,
        isp_database=os.environ.get("AGORA_ISP_DATABASE") or None,
        custom_fields=configured_custom_fields(),
    )


def build(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=with_storage_kind(assets.assets, storage_kind(settings, "agora")),
        schedules=assets.schedules,
        resources={"agora_logs": resource(settings)},
    )
