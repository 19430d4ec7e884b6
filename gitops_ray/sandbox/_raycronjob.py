"""The simulated RayCronJob controller (raycronjob_controller.go, kuberay-facts.md §2.4).

Runs only with feature gate `RayCronJob` (alpha, off by default in v1.6/v1.7,
where the upstream controller is not even started). Each due tick of the
5-field schedule creates RayJob `<cron>-<unix minute>` with the jobTemplate,
label `ray.io/cronjob-name` and annotation `ray.io/cronjob-scheduled-timestamp`;
missed ticks are caught up one per pass from `status.lastScheduleTime`, as
upstream does. Invalid specs are only logged (upstream: a Warning event).
"""

from __future__ import annotations

import calendar
import copy
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gitops_ray.sandbox import _rayvalidation as validation
from gitops_ray.sandbox._raycommon import (
    A_CRON_TIMESTAMP,
    FIELD_MANAGER,
    L_CRONJOB,
    RAY_V1,
    Env,
    log,
    owner_reference,
    parse_time,
    rfc3339,
    status_code,
    update_status,
)

_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
_NAMES: tuple[dict[str, int], ...] = ({}, {}, {}, {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m},
          {d.upper(): (i + 1) % 7 for i, d in enumerate(calendar.day_abbr)})
_DESCRIPTORS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
                "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}


class CronError(ValueError):
    pass


def _field(text: str, index: int) -> tuple[frozenset[int], bool]:
    low, high = _RANGES[index]
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step <= 0:
            raise CronError(f"step of range should be a positive number: {part}")
        if body in ("*", "?"):
            start, end = low, high
        else:
            first, _, last = body.partition("-")
            start = _value(first, index)
            end = _value(last, index) if last else (high if step_text else start)
        if not low <= start <= end <= high:
            raise CronError(f"end of range ({end}) above maximum ({high}): {part}" if end > high
                            else f"beginning of range ({start}) below minimum ({low}): {part}")
        values.update(range(start, end + 1, step))
    return frozenset(values), text.startswith(("*", "?"))


def _value(text: str, index: int) -> int:
    named = _NAMES[index].get(text.upper())
    if named is not None:
        return named
    if not text.isdigit():
        raise CronError(f"failed to parse int from {text}")
    return int(text)


class Schedule:
    """robfig/cron `ParseStandard`: minute hour day-of-month month day-of-week, or an @descriptor."""

    def __init__(self, text: str) -> None:
        spec = _DESCRIPTORS.get(text.strip(), text)
        fields = spec.split()
        if len(fields) != 5:
            raise CronError(f"expected exactly 5 fields, found {len(fields)}: [{text}]")
        parsed = [_field(f, i) for i, f in enumerate(fields)]
        (self.minutes, _), (self.hours, _), (self.days, dom_star), (self.months, _), (self.weekdays, dow_star) = parsed
        self.dom_star, self.dow_star = dom_star, dow_star

    def _day_matches(self, day: dt.datetime) -> bool:
        dom, dow = day.day in self.days, (day.weekday() + 1) % 7 in self.weekdays
        return dom and dow if self.dom_star or self.dow_star else dom or dow

    def next(self, after: dt.datetime) -> dt.datetime | None:
        moment = after.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        limit = moment + dt.timedelta(days=5 * 366)
        while moment < limit:
            if moment.month not in self.months:
                moment = (moment.replace(day=1, hour=0, minute=0) + dt.timedelta(days=32)).replace(day=1)
            elif not self._day_matches(moment):
                moment = moment.replace(hour=0, minute=0) + dt.timedelta(days=1)
            elif moment.hour not in self.hours:
                moment = moment.replace(minute=0) + dt.timedelta(hours=1)
            elif moment.minute not in self.minutes:
                moment += dt.timedelta(minutes=1)
            else:
                return moment
        return None


def check(cron: dict[str, Any], env: Env) -> str | None:
    """`ValidateRayCronJobSpec`."""
    name, spec = str(cron["metadata"].get("name") or ""), cron.get("spec") or {}
    if len(name) > validation.MAX_CRONJOB_NAME:
        return f"RayCronJob name should be no more than {validation.MAX_CRONJOB_NAME} characters"
    schedule = str(spec.get("schedule") or "")
    if "TZ" in schedule:
        return "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
    try:
        Schedule(schedule)
    except CronError as exc:
        return f"invalid cron schedule: {exc}"
    zone = spec.get("timeZone")
    if zone is not None:
        if zone == "":
            return ("timeZone must not be empty string, omit the field to use the local time zone of the KubeRay "
                    "operator")
        try:
            ZoneInfo(str(zone))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            return f"invalid time zone: {exc}"
    template = {"metadata": {"name": "template"}, "spec": spec.get("jobTemplate") or {}}
    error = validation.rayjob(template, env.gate)
    return f"invalid RayJob template: {error}" if error else None


class RayCronJobController:
    def __init__(self, env: Env) -> None:
        self.env = env

    def reconcile(self, cron: dict[str, Any]) -> None:
        env, meta, spec = self.env, cron["metadata"], cron.get("spec") or {}
        error = check(cron, env)
        if error:
            log.debug("RayCronJob %s/%s is invalid (event InvalidRayCronJobSpec): %s", meta["namespace"],
                      meta["name"], error)
            return
        if spec.get("suspend") is True:
            return
        zone = ZoneInfo(str(spec["timeZone"])) if spec.get("timeZone") else dt.UTC
        status = cron.get("status") or {}
        earliest = parse_time(status.get("lastScheduleTime")) or parse_time(meta.get("creationTimestamp"))
        if earliest is None:
            return
        due = Schedule(str(spec.get("schedule"))).next(dt.datetime.fromtimestamp(earliest, zone))
        if due is None or due.timestamp() > env.now():
            return
        stamp = due.timestamp()
        body = {"apiVersion": RAY_V1, "kind": "RayJob", "metadata": {
            "name": f"{meta['name']}-{int(stamp) // 60}", "namespace": meta["namespace"],
            "labels": {L_CRONJOB: meta["name"]}, "annotations": {A_CRON_TIMESTAMP: rfc3339(stamp)},
            "ownerReferences": [owner_reference(cron)]}, "spec": copy.deepcopy(spec.get("jobTemplate") or {})}
        try:
            env.client.create(RAY_V1, "rayjobs", meta["namespace"], body, field_manager=FIELD_MANAGER)
        except Exception as exc:
            if status_code(exc) != 409:
                raise
        update_status(env, RAY_V1, "raycronjobs", cron, {**status, "lastScheduleTime": rfc3339(stamp)})
