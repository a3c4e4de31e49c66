"""The LLM backends behind one protocol, and the embedded model read once per process.

The remote backend runs against a real OpenAI-compatible server (llama.cpp serving SmolLM2 on loopback, with
the fault proxy in front where retries are wanted); the local one runs the embedded model itself.
"""

from __future__ import annotations

import pytest
import torch

from curation.llm.backends import default_backends
from curation.llm.client import LLM, Request
from curation.llm.config import Endpoint
from curation.llm.local import LocalBackend, default_gguf
from curation.llm.remote import RemoteBackend
from curation.llm.shared import LLMPool
from curation.llm.types import Reply
from curation.llm.weights import inference_model, read_model
from training.config import ModelSpec
from training.evaluation.config import WinRateSpec
from training.evaluation.models import _dtype, load_local
from training.evaluation.winrate import llm_judge
from training.model import attn_implementation, load_model, load_tokenizer

from .llm_server import FaultProxy
from .test_llm import endpoint

pytestmark = pytest.mark.timeout(300)

QUESTIONS = ["asthma", "anemia", "gout", "migraine"]


def requests(n: int = 4, max_tokens: int = 2) -> list[Request]:
    return [Request([{"role": "user", "content": f"Name one symptom of {d}. One word."}],
                    {"max_tokens": max_tokens, "temperature": 0.0}) for d in QUESTIONS[:n]]


def remote(url: str, **kw) -> Endpoint:
    return endpoint(url, **{"concurrency": 2, **kw})


def collect(backend, reqs: list[Request], stop_after: int | None = None) -> dict[int, Reply]:
    """The replies a backend hands over, by index; `stop()` turns true once `stop_after` have come."""
    got: dict[int, Reply] = {}

    def on_reply(i: int, reply: Reply) -> None:
        assert i not in got, "a reply handed over twice"
        got[i] = reply

    backend.complete(reqs, on_reply, lambda: stop_after is not None and len(got) >= stop_after)
    return got


class Recording:
    """A BackendFactory's product that counts its calls, around the default backend."""

    def __init__(self, endpoint: Endpoint):
        self.inner = default_backends(endpoint)
        self.calls, self.closed = 0, False

    def complete(self, reqs, on_reply, stop) -> None:
        self.calls += 1
        self.inner.complete(reqs, on_reply, stop)

    def close(self) -> None:
        self.closed = True
        self.inner.close()


# --- one model per process ------------------------------------------------------------------------------------


def test_inference_users_share_one_read_and_training_gets_its_own_copy():
    read_model.cache_clear()
    first, second = LLM(Endpoint()), LLM(Endpoint())
    try:
        assert first.complete(requests(1, max_tokens=1))[0].error is None
        assert second.complete(requests(2, max_tokens=1)[1:])[0].error is None
        shared = first.backend.model.model  # type: ignore[attr-defined]
        assert second.backend.model.model is shared  # type: ignore[attr-defined]
    finally:
        first.close()
        second.close()
    evaluated, tokenizer, _ = load_local(None)  # `medcurate eval` of the base model
    judge = llm_judge(WinRateSpec(judge_max_tokens=1, repairs=0))  # the win rate's judge, on the embedded model
    assert len(judge([("What treats gout?", "Colchicine.", "Rest.", "en")])) == 1
    same_dtype = _dtype() == torch.float32
    assert (evaluated is shared) == same_dtype and not evaluated.training
    assert read_model.cache_info().misses == (1 if same_dtype else 2)

    # training: a model of its own, with the shared model's weights (the file read in the same dtype), and the
    # seeded RNG left where it was (LoRA's initial weights come from it next)
    spec = ModelSpec(dtype="float32")
    rng = torch.get_rng_state()
    trained = load_model(spec, load_tokenizer(spec))
    assert torch.equal(rng, torch.get_rng_state())
    assert read_model.cache_info().misses == (1 if same_dtype else 2)  # built from the read, not read again
    assert trained is not shared and trained.config._attn_implementation == attn_implementation(spec)
    assert not hasattr(trained.config, "quantization_config") and not trained.training
    mine, theirs = trained.state_dict(), shared.state_dict()
    assert mine.keys() == theirs.keys()
    for name in mine:
        assert torch.equal(mine[name], theirs[name]), name
        assert mine[name].data_ptr() != theirs[name].data_ptr(), f"{name} shares memory with the shared model"
    for (name, mine_buf), (_, their_buf) in zip(trained.named_buffers(), shared.named_buffers()):
        assert mine_buf.dtype == their_buf.dtype and torch.equal(mine_buf, their_buf), name
    before = next(shared.parameters()).clone()
    with torch.no_grad():
        next(trained.parameters()).add_(1.0)  # training moves the copy's weights, never the shared ones
    assert torch.equal(next(shared.parameters()), before)
    assert inference_model(default_gguf()) is shared


def test_a_tokenizer_is_a_copy_of_the_one_read():
    first, second = load_tokenizer(ModelSpec()), load_tokenizer(ModelSpec())
    first.padding_side = "left" if second.padding_side == "right" else "right"
    assert first is not second and first.padding_side != second.padding_side
    assert first("fever")["input_ids"] == second("fever")["input_ids"]


# --- the backend protocol ---------------------------------------------------------------------------------------


def test_local_backend_hands_each_reply_over_and_stops_between_batches():
    backend = LocalBackend(Endpoint(batch_size=1))
    try:
        got = collect(backend, requests(3, max_tokens=1), stop_after=2)
    finally:
        backend.close()
    assert sorted(got) == [0, 1] and all(r.error is None and r.text is not None for r in got.values())


def test_the_default_backend_follows_the_endpoint():
    assert isinstance(default_backends(Endpoint(base_url="http://127.0.0.1:1/v1")), RemoteBackend)
    assert isinstance(default_backends(Endpoint()), LocalBackend)
    pool = LLMPool(actors=2)
    assert isinstance(pool(Endpoint()), LocalBackend) and pool.actors == []  # no actor for an in-process model


def test_remote_backend_on_the_server_answers_by_index_and_stops_when_told(server):
    backend = RemoteBackend(remote(server.base_url))
    try:
        got = collect(backend, requests())
        assert sorted(got) == [0, 1, 2, 3] and all(r.error is None and r.text for r in got.values())
        stopped = collect(backend, requests(), stop_after=1)  # the same backend, called again
    finally:
        backend.close()
    # each of the two workers asks before taking a request: both had one in flight when told, none took another
    assert sorted(stopped) == [0, 1] and all(r.error is None for r in stopped.values())


def test_llm_makes_its_backend_on_the_first_cache_miss_and_closes_it(server, tmp_path):
    made: list[Recording] = []

    def factory(endpoint: Endpoint) -> Recording:
        made.append(Recording(endpoint))
        return made[-1]

    ep = remote(server.base_url)
    llm = LLM(ep, tmp_path / "cache.sqlite", backends=factory)
    replies = llm.complete(requests(2)) + llm.complete(requests(4)[2:])
    llm.close()
    assert len(made) == 1 and made[0].calls == 2 and made[0].closed  # one backend for the LLM's life
    assert llm.usage.requests == 4 and llm.usage.cache_hits == 0
    again = LLM(ep, tmp_path / "cache.sqlite", backends=factory)
    cached = again.complete(requests())
    again.close()
    assert len(made) == 1 and again.usage.cache_hits == 4  # answered from the cache: no backend was made
    assert [r.text for r in cached] == [r.text for r in replies] and all(r.cached for r in cached)


def test_retries_counted_by_the_backend_reach_the_usage(server, tmp_path):
    proxy = FaultProxy(server.port, ["500", "ok"])
    try:
        llm = LLM(remote(proxy.base_url, concurrency=1), tmp_path / "cache.sqlite")
        replies = llm.complete(requests(2))
        llm.close()
    finally:
        proxy.stop()
    assert all(r.error is None for r in replies)
    assert llm.usage.retries == 2 and llm.usage.requests == 2 and llm.usage.failed == 0
    assert proxy.seen["500"] == 2 and proxy.answered == 2
