"""Typed events that travel on the bus and over the wire (core layer).

Every event is a frozen, tagged msgspec Struct with two int-nanosecond UTC timestamps:

- ``ts_event``: when the thing happened. For a bar this is its **close** time; a bar only
  exists once it has closed, so nothing can observe it earlier.
- ``ts_init``: when this object was created (the clock's time in the process that built it).

Market data, indicator and synergy events take their fields positionally too (in declaration
order, the base's ``ts_event, ts_init`` first): the components build them once per bar on the
hot path, where msgspec's positional construction is several times cheaper than keywords. Order
and fill events take their own fields by keyword only. There are no dict or ``Any`` payloads.
``AnyEvent`` is the union of all concrete events, and one reused msgpack encoder/decoder pair
serialises it (see :func:`encode` / :func:`decode`). Later layers add their events here, to
the union, so a single decoder reads every message.

A user's own event types (a custom indicator's output) are registered with
:func:`register_event`: from then on :func:`decode` reads them too, so they travel on the
bus, into the live journal and over the wire like the built-in ones. A registered type must
be a frozen, tagged subclass of :class:`Event` whose tag no other type uses.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeAlias, Union

import msgspec

__all__ = [
    "AnyEvent",
    "Bar",
    "ConsensusReached",
    "SIGNAL_SCHEMA",
    "Signal",
    "Event",
    "EVENT_TYPES",
    "Fill",
    "Heartbeat",
    "HeikenAshiBar",
    "FvgMitigated",
    "FvgState",
    "IndicatorValue",
    "LvnLevels",
    "MMD_FEATURE_COUNT",
    "MlmiValue",
    "MmdFeatures",
    "NwrqkValue",
    "OrderIntent",
    "OrderRejected",
    "PATTERN_NAMES",
    "REGIME_VECTOR_SIZE",
    "RegimeVector",
    "RiskProposal",
    "SynergyDetected",
    "SynergyKind",
    "SynergySignal",
    "Tick",
    "TradeClosed",
    "TradeRejected",
    "decode",
    "decode_many",
    "encode",
    "event_types",
    "register_event",
]


class Event(msgspec.Struct, frozen=True, tag=True, gc=False):
    """Base of every event: UNIX-nanosecond ``ts_event`` and ``ts_init``."""

    ts_event: int
    ts_init: int


class Bar(Event, frozen=True, tag=True, gc=False):
    """One closed OHLCV bar.

    ``ts_open`` is the bucket start, ``ts_event`` the bucket close (exclusive end), so
    ``ts_event - ts_open`` is the bar's nominal length. ``timeframe`` is its label
    (``"1m"``, ``"5m"``, ``"30m"`` ...), parsed by :func:`engine.core.timeframes.parse_timeframe`.
    """

    instrument: str
    timeframe: str
    ts_open: int
    open: float
    high: float
    low: float
    close: float
    volume: float


class Tick(Event, frozen=True, tag=True, gc=False):
    """One trade print: ``price`` and ``size`` at ``ts_event``."""

    instrument: str
    price: float
    size: float


class Heartbeat(Event, frozen=True, tag=True, gc=False):
    """Liveness beacon of a process, with its own monotonically increasing ``sequence``."""

    source: str
    sequence: int


class HeikenAshiBar(Event, frozen=True, tag=True, gc=False):
    """The Heiken Ashi transform of one closed bar (same ``ts_open``/``ts_event``)."""

    instrument: str
    timeframe: str
    ts_open: int
    open: float
    high: float
    low: float
    close: float


class IndicatorValue(Event, frozen=True, tag=True, gc=False):
    """One value of a scalar indicator at a bar close (``indicator`` names it, e.g. ``atr14``).

    Emitted only once the indicator is defined (after its warm-up), so it is never ``nan``.
    """

    instrument: str
    timeframe: str
    indicator: str
    value: float


class MlmiValue(Event, frozen=True, tag=True, gc=False):
    """MLMI at a bar close: the kNN vote in [-200, 200] and its zero-cross ``signal`` (+1/-1/0).

    ``stored`` points are in memory; ``crossover`` is +1/-1 when this bar stored a WMA 5/20
    crossover (with ``label``), else 0; ``ma_fast``, ``ma_slow``, ``x1`` = WMA20(RSI20) and
    ``x2`` = WMA20(RSI5) are the inputs. Emitted once the features are defined.
    """

    instrument: str
    timeframe: str
    value: float
    signal: int
    stored: int
    crossover: int
    label: int
    ma_fast: float
    ma_slow: float
    x1: float
    x2: float


class NwrqkValue(Event, frozen=True, tag=True, gc=False):
    """NW-RQK at a bar close: both estimates, the slope and the change/cross signals.

    ``signal`` is +1 on a bullish change (the slope turns up), -1 on a bearish one, else 0.
    Emitted once the slope is defined (``x0 + 2`` bars), so no field is ``nan``.
    """

    instrument: str
    timeframe: str
    yhat1: float
    yhat2: float
    slope: float
    bullish_change: bool
    bearish_change: bool
    bullish_cross: bool
    bearish_cross: bool
    signal: int


class LvnLevels(Event, frozen=True, tag=True, gc=False):
    """Low-volume nodes of the rolling volume profile at a bar close.

    ``support_*`` is the highest node at or below the close, ``resistance_*`` the lowest above
    it (``None`` when there is none); strength is 0-100 (100 = no volume at the node),
    distance is in points from the close (>= 0). ``poc_*`` is the point of control.
    """

    instrument: str
    timeframe: str
    support_price: float | None
    support_strength: float | None
    support_distance: float | None
    resistance_price: float | None
    resistance_strength: float | None
    resistance_distance: float | None
    poc_price: float
    poc_volume: float
    lvn_count: int


class FvgState(Event, frozen=True, tag=True, gc=False):
    """Fair value gaps at a bar close: a gap this bar created, the active gaps, the nearest one.

    ``new_*`` describe the gap this bar created (``None`` when none); ``nearest_*`` the active
    gap edge closest to the close (``nearest_side`` +1 bullish, -1 bearish, 0 none), its age in
    bars and size in points and percent of price.
    """

    instrument: str
    timeframe: str
    bullish_new: bool
    bearish_new: bool
    new_bottom: float | None
    new_top: float | None
    new_size: float | None
    new_size_pct: float | None
    bullish_count: int
    bearish_count: int
    nearest_side: int
    nearest_level: float | None
    nearest_distance: float | None
    nearest_bottom: float | None
    nearest_top: float | None
    nearest_age: int | None
    nearest_size: float | None
    nearest_size_pct: float | None


class FvgMitigated(Event, frozen=True, tag=True, gc=False):
    """Price traded back into one or more active gaps of one side at this bar.

    ``side`` +1 for bullish gaps, -1 for bearish; ``count`` gaps were mitigated; ``size``,
    ``size_pct`` and ``age`` describe the largest of them.
    """

    instrument: str
    timeframe: str
    side: int
    count: int
    size: float
    size_pct: float
    age: int


MMD_FEATURE_COUNT = 23


class MmdFeatures(Event, frozen=True, tag=True, gc=False):
    """The MMD regime features at a slow bar close: 23 values in the order of
    ``components.regime.mmd.MMD_FEATURE_NAMES`` (7 MMD scores against the fitted reference
    sets, then 16 statistics), and the version of the reference artifact they were computed
    against. Emitted once every value is defined, so none is ``nan``.
    """

    instrument: str
    timeframe: str
    values: Annotated[tuple[float, ...], msgspec.Meta(min_length=MMD_FEATURE_COUNT,
                                                      max_length=MMD_FEATURE_COUNT)]
    reference: str


REGIME_VECTOR_SIZE = 8


class RegimeVector(Event, frozen=True, tag=True, gc=False):
    """The RDE's regime vector at a slow bar close: ``mu``, the mean of the 8-d latent
    Gaussian of the regime matrix that ends with this bar, and the version of the registered
    model (``rde/<name>/<version>``) that computed it."""

    instrument: str
    timeframe: str
    mu: Annotated[tuple[float, ...], msgspec.Meta(min_length=REGIME_VECTOR_SIZE,
                                                  max_length=REGIME_VECTOR_SIZE)]
    model: str


SynergyKind: TypeAlias = Literal["mlmi", "nwrqk", "fvg"]

PATTERN_NAMES: dict[int, str] = {
    1: "MLMI>NWRQK>FVG",
    2: "MLMI>FVG>NWRQK",
    3: "NWRQK>FVG>MLMI",
    4: "NWRQK>MLMI>FVG",
}
"""``SynergyDetected.pattern`` to the order of its signals (docs/design.md section 4 numbering)."""


class SynergySignal(Event, frozen=True, tag=True, gc=False):
    """One indicator event that passed its synergy activation rule (``components.synergy``).

    ``kind`` names the indicator, ``timeframe`` is the indicator's (slow for MLMI and NW-RQK,
    fast for FVG), ``direction`` +1/-1. ``value`` is the raw reading the rule looked at (the
    MLMI vote, the NW-RQK slope in price units, the mitigated gap's size in percent of price)
    and ``strength`` its normalisation to [0, 1]. ``ts_event`` is the indicator event's.
    """

    instrument: str
    timeframe: str
    kind: SynergyKind
    direction: Literal[-1, 1]
    value: float
    strength: float


class SynergyDetected(Event, frozen=True, tag=True, gc=False):
    """A complete synergy pattern: three signal kinds in one direction within the window.

    ``timeframe`` is the fast one (the detector's clock), ``pattern`` 1..4 (``PATTERN_NAMES``),
    ``signals`` the three signals in arrival order, ``bars_to_complete`` the fast bars from the
    first signal's bar to the last one's, both counted. The market context at completion:
    ``price`` (last fast close), ``atr`` (the configured ATR), ``volatility`` (population std
    of the last 20 fast close-to-close returns), ``volume_ratio`` (last fast volume over the
    mean of the last 20, ``None`` when that mean is 0) and the nearest low-volume nodes of the
    last ``LvnLevels`` (``None`` when unknown); their distances are from ``price``, signed
    positive on the expected side (support below, resistance above).
    """

    instrument: str
    timeframe: str
    pattern: Literal[1, 2, 3, 4]
    direction: Literal[-1, 1]
    signals: tuple[SynergySignal, SynergySignal, SynergySignal]
    bars_to_complete: int
    price: float
    atr: float
    volatility: float
    volume_ratio: float | None
    lvn_support_price: float | None
    lvn_support_strength: float | None
    lvn_support_distance: float | None
    lvn_resistance_price: float | None
    lvn_resistance_strength: float | None
    lvn_resistance_distance: float | None


class OrderIntent(Event, frozen=True, kw_only=True, tag=True, gc=False):
    """A strategy's order, decided at a bar close; the broker executes it from the next bar.

    ``action`` is ``buy``, ``sell`` or ``close`` (flatten the open position, any size).
    ``order_type`` ``market`` fills at the next bar's open (plus slippage); ``limit`` and
    ``stop`` use ``price`` as the limit or trigger level. A bracket is attached by giving a stop
    and/or a target, either as absolute prices (``stop_price``, ``target_price``) or as
    distances in points from the entry fill (``stop_points``, ``target_points``); stop and
    target are one-cancels-other. ``time_stop_bars`` overrides the broker's default time stop
    (0 disables it); ``expire_bars`` cancels an unfilled limit/stop order after that many bars
    (0 = good until cancelled). ``tag`` is carried to the trade list (a setup or pattern name).
    """

    instrument: str
    strategy: str
    order_id: int
    action: Literal["buy", "sell", "close"]
    order_type: Literal["market", "limit", "stop"] = "market"
    quantity: int = 0
    price: float | None = None
    stop_price: float | None = None
    target_price: float | None = None
    stop_points: float | None = None
    target_points: float | None = None
    time_stop_bars: int | None = None
    expire_bars: int = 0
    tag: str = ""


class Fill(Event, frozen=True, kw_only=True, tag=True, gc=False):
    """An execution by the simulated broker.

    ``ts_fill`` is when it happened: the bar's open for fills at the open, the bar's close for
    fills inside the bar (the earliest moment the engine can know of them). ``ts_event`` is the
    close of the bar in which the broker processed it. ``side`` is +1 (buy) or -1 (sell).
    ``slippage_usd`` is the cost of the fill price against the price without slippage.
    """

    instrument: str
    strategy: str
    order_id: int
    ts_fill: int
    side: int
    quantity: int
    price: float
    reason: Literal["entry", "exit", "stop", "target", "time_stop", "session_end", "close"]
    commission_usd: float
    slippage_usd: float
    position_after: int


class TradeClosed(Event, frozen=True, kw_only=True, tag=True, gc=False):
    """A closed (part of a) position: one row of the trade list.

    P&L is per the closed ``quantity``: ``pnl_points`` per contract, ``gross_pnl_usd`` before
    costs, ``pnl_usd`` after the commissions of both sides. ``r_multiple`` is ``pnl_usd`` over
    the initial risk (entry price to stop level, times quantity and point value) and ``None``
    when the position had no stop. ``mae_points``/``mfe_points`` are the worst and best
    excursion per contract while the position was open (negative and positive numbers).
    ``stop_price``/``target_price`` are the position's bracket levels when it closed
    (``None``: it had none).
    """

    instrument: str
    strategy: str
    trade_id: int
    order_id: int
    direction: Literal["long", "short"]
    quantity: int
    ts_entry: int
    entry_price: float
    ts_exit: int
    exit_price: float
    exit_reason: Literal["exit", "stop", "target", "time_stop", "session_end", "close"]
    pnl_points: float
    gross_pnl_usd: float
    commission_usd: float
    slippage_usd: float
    pnl_usd: float
    r_multiple: float | None
    bars_held: int
    mae_points: float
    mfe_points: float
    tag: str = ""
    stop_price: float | None = None
    target_price: float | None = None


class OrderRejected(Event, frozen=True, kw_only=True, tag=True, gc=False):
    """An order the broker refused or cancelled, with the reason (a business outcome)."""

    instrument: str
    strategy: str
    order_id: int
    reason: str


class RiskProposal(Event, frozen=True, kw_only=True, tag=True, gc=False):
    """The M-RMS's sized bracket for one qualified setup, after the deterministic hard limits.

    ``setup_ts`` is the ``ts_event`` of the setup it answers. ``size`` is in contracts (> 0;
    a proposal sized to 0 is a ``TradeRejected`` instead); ``entry`` the expected entry price,
    ``stop`` and ``target`` the bracket's absolute levels. ``risk_usd`` is ``size`` times the
    dollar risk of one contract (stop distance times point value plus the cost estimate),
    ``reward_usd`` the same to the target, ``rr`` the reward-to-risk ratio of the bracket in
    points. ``confidence`` is the model's in [0, 1] and ``model`` its registered version (or
    the name of the fixed rule). ``limited_by`` names the hard limits that scaled the learned
    size down (``components.risk.LIMIT_NAMES``), empty when none did.
    """

    instrument: str
    strategy: str
    setup_ts: int
    direction: Literal["long", "short"]
    size: int
    entry: float
    stop: float
    target: float
    stop_points: float
    target_points: float
    risk_usd: float
    reward_usd: float
    rr: float
    confidence: float
    model: str
    limited_by: tuple[str, ...] = ()


class ConsensusReached(Event, frozen=True, kw_only=True, tag=True, gc=False):
    """A setup that passed gate 1, the MC-Dropout consensus of the three MARL agents.

    ``setup`` is the ``SynergyDetected`` it answers; ``direction`` its side. ``agree`` counts
    the agents voting for it; ``confidence`` is the weighted mean probability of that action,
    ``uncertainty`` the weighted std over the ``samples`` stochastic passes, ``score`` the
    first minus the penalty times the second (the gate's threshold applies to it).
    ``entropy`` and ``mutual_information`` (nats) describe the weighted ensemble's uncertainty.
    ``mean`` and ``std`` hold each agent's probabilities of pass, long, short (agent-major,
    structure, tactical, arbitrageur: 9 floats each). ``model`` is the registered version.
    """

    instrument: str
    strategy: str
    setup: SynergyDetected
    direction: Literal["long", "short"]
    agree: int
    confidence: float
    uncertainty: float
    score: float
    entropy: float
    mutual_information: float
    mean: Annotated[tuple[float, ...], msgspec.Meta(min_length=9, max_length=9)]
    std: Annotated[tuple[float, ...], msgspec.Meta(min_length=9, max_length=9)]
    samples: int
    model: str


SIGNAL_SCHEMA = 1
"""Version of the :class:`Signal` fields; raised whenever they change."""


class Signal(Event, frozen=True, kw_only=True, tag=True, gc=False):
    """A trading signal the live daemon publishes: one order a strategy decided.

    ``seq`` counts the daemon's signals from 1 without gaps, across restarts. ``action`` and
    ``size`` are the order's; ``entry`` the close of the bar it was decided on (the order fills
    at the next open); ``stop`` and ``target`` the bracket levels from that entry (``None``
    without one), ``stop_points``/``target_points`` the distances the broker applies to the
    actual fill. ``gate1_confidence``/``gate1_uncertainty`` come from the MARL consensus and
    ``risk_usd`` from the M-RMS proposal when the strategy has them. ``models`` lists the
    registered models (``kind/name/version``) and ``config_id`` the run's config hash.
    """

    schema: int = SIGNAL_SCHEMA
    seq: int
    instrument: str
    strategy: str
    action: Literal["buy", "sell", "close"]
    size: int
    entry: float
    stop: float | None = None
    target: float | None = None
    stop_points: float | None = None
    target_points: float | None = None
    tag: str = ""
    gate1_confidence: float | None = None
    gate1_uncertainty: float | None = None
    risk_usd: float | None = None
    models: tuple[str, ...] = ()
    config_id: str = ""


class TradeRejected(Event, frozen=True, kw_only=True, tag=True, gc=False):
    """A setup that did not become a trade: the ``stage`` that stopped it and why.

    ``stage`` is ``synergy`` (the pre-filter), ``gate1`` (the MC-Dropout consensus), ``risk``
    (the M-RMS sized it to 0 or a hard limit vetoed it) or ``gate2`` (risk approval).
    ``reasons`` are stable names, for hard limits those of ``components.risk.LIMIT_NAMES``.
    ``direction`` is the setup's, when it had one. A business outcome, not an error.
    ``verdict``, at stage ``gate1`` once the agents voted, holds the consensus figures that
    failed (the ``ConsensusReached`` the setup would have produced), so the diagnostics see
    every setup's agreement, probabilities and uncertainty, not only the passed ones'.
    """

    instrument: str
    strategy: str
    stage: Literal["synergy", "gate1", "risk", "gate2"]
    reasons: tuple[str, ...]
    direction: Literal["long", "short"] | None = None
    verdict: ConsensusReached | None = None


AnyEvent: TypeAlias = (
    Bar | Tick | Heartbeat | HeikenAshiBar | IndicatorValue | MlmiValue | NwrqkValue | LvnLevels
    | FvgState | FvgMitigated | MmdFeatures | RegimeVector | SynergySignal | SynergyDetected
    | OrderIntent | Fill | TradeClosed | OrderRejected | RiskProposal | TradeRejected
    | ConsensusReached | Signal
)

EVENT_TYPES: tuple[type[Event], ...] = (
    Bar, Tick, Heartbeat, HeikenAshiBar, IndicatorValue, MlmiValue, NwrqkValue, LvnLevels,
    FvgState, FvgMitigated, MmdFeatures, RegimeVector, SynergySignal, SynergyDetected,
    OrderIntent, Fill, TradeClosed, OrderRejected, RiskProposal, TradeRejected,
    ConsensusReached, Signal,
)

_ENCODER = msgspec.msgpack.Encoder()
_DECODER: msgspec.msgpack.Decoder[AnyEvent] = msgspec.msgpack.Decoder(AnyEvent)
_LIST_DECODER: msgspec.msgpack.Decoder[list[AnyEvent]] = msgspec.msgpack.Decoder(list[AnyEvent])
_REGISTERED: list[type[Event]] = []


def _tag(kind: type[Event]) -> object:
    return kind.__struct_config__.tag


def event_types() -> tuple[type[Event], ...]:
    """The built-in event types and the registered ones, in registration order."""
    return (*EVENT_TYPES, *_REGISTERED)


def register_event(kind: type[Event]) -> None:
    """Let :func:`decode` read ``kind`` (module docstring); registering a type again is a no-op.

    Raises ``TypeError`` naming the type when it is not a frozen, tagged :class:`Event`
    subclass, or when its tag is another type's.
    """
    global _DECODER, _LIST_DECODER
    if kind in EVENT_TYPES or kind in _REGISTERED:
        return
    name = getattr(kind, "__qualname__", repr(kind))
    if not (isinstance(kind, type) and issubclass(kind, Event)):
        raise TypeError(f"{name}: expected a subclass of engine.core.events.Event")
    config = kind.__struct_config__
    if not config.frozen or not isinstance(config.tag, str):
        raise TypeError(f"{name}: expected a frozen, tagged Struct (class {name}(Event, "
                        "frozen=True, tag=True))")
    clash = next((t for t in event_types() if _tag(t) == config.tag), None)
    if clash is not None:
        raise TypeError(f"{name}: tag {config.tag!r} is already {clash.__module__}."
                        f"{clash.__qualname__}'s; give the type another name or tag")
    _REGISTERED.append(kind)
    union: Any = Union[event_types()]  # noqa: UP007 (a union built at run time)
    _DECODER = msgspec.msgpack.Decoder(union)
    _LIST_DECODER = msgspec.msgpack.Decoder(list[union])


def encode(event: Event) -> bytes:
    """Encode one event (or a list of events) to msgpack with its type tag."""
    return _ENCODER.encode(event)


def decode(data: bytes) -> AnyEvent:
    """Decode msgpack produced by :func:`encode` back into the concrete event type.

    Raises ``msgspec.ValidationError`` / ``msgspec.DecodeError`` naming the bad field.
    """
    return _DECODER.decode(data)


def decode_many(data: bytes) -> list[AnyEvent]:
    """Decode a msgpack array of events (an event log)."""
    return _LIST_DECODER.decode(data)
