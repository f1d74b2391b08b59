"""The library core: optimiser, clipping, trainer (early stopping, restore, determinism), gradcheck."""

import numpy as np
import pytest

from models import activations
from models.gradcheck import check_gradients, relative_error
from models.optim import MomentumSGD, clip_grad_norm, global_norm
from models.trainer import MAX_LOSS_GROWTH, TrainingDiverged, train


def test_momentum_matches_hand_computation_over_three_steps():
    params = {"w": np.array([1.0, -2.0])}
    opt = MomentumSGD(lr=0.1, momentum=0.9)
    grads = [np.array([1.0, 0.5]), np.array([-2.0, 1.0]), np.array([0.0, 3.0])]
    # v1 = -0.1 g1 = [-0.1, -0.05];            w1 = [0.9, -2.05]
    # v2 = 0.9 v1 - 0.1 g2 = [0.11, -0.145];   w2 = [1.01, -2.195]
    # v3 = 0.9 v2 - 0.1 g3 = [0.099, -0.4305]; w3 = [1.109, -2.6255]
    for g in grads:
        opt.step(params, {"w": g})
    np.testing.assert_allclose(opt.velocity["w"], [0.099, -0.4305], rtol=1e-12)
    np.testing.assert_allclose(params["w"], [1.109, -2.6255], rtol=1e-12)


def test_weight_decay_adds_decay_times_theta_to_the_gradient_of_matrices_only():
    params = {"W": np.array([[1.0, -2.0]]), "b": np.array([3.0])}
    opt = MomentumSGD(lr=0.1, momentum=0.5, weight_decay=0.2)
    grads = [{"W": np.array([[0.5, 0.0]]), "b": np.array([1.0])}, {"W": np.array([[0.0, 1.0]]), "b": np.array([0.0])}]
    # W: g1 = [0.5 + 0.2, 0 - 0.4] = [0.7, -0.4], v1 = [-0.07, 0.04], W1 = [0.93, -1.96]
    #    g2 = [0 + 0.186, 1 - 0.392] = [0.186, 0.608], v2 = 0.5 v1 - 0.1 g2 = [-0.0536, -0.0408], W2 = [0.8764, -2.0008]
    # b (a bias, not decayed): v1 = -0.1, b1 = 2.9; v2 = -0.05, b2 = 2.85
    for g in grads:
        opt.step(params, g)
    np.testing.assert_allclose(params["W"], [[0.8764, -2.0008]], rtol=1e-12)
    np.testing.assert_allclose(params["b"], [2.85], rtol=1e-12)
    assert grads[0]["W"].tolist() == [[0.5, 0.0]]  # the caller's gradient is not changed


def test_zero_weight_decay_is_the_plain_update_bit_for_bit():
    rng = np.random.default_rng(0)
    start = {"W": rng.standard_normal((3, 4)).astype(np.float32), "b": rng.standard_normal(4).astype(np.float32)}
    grads = [{k: rng.standard_normal(v.shape).astype(np.float32) for k, v in start.items()} for _ in range(3)]
    plain, decayed = ({k: v.copy() for k, v in start.items()} for _ in range(2))
    for opt, params in ((MomentumSGD(0.3, 0.85), plain), (MomentumSGD(0.3, 0.85, weight_decay=0.0), decayed)):
        for g in grads:
            opt.step(params, g)
    assert all(np.array_equal(plain[k], decayed[k]) for k in start)


def test_clip_grad_norm_scales_to_max_norm_only_when_above():
    grads = {"a": np.array([3.0]), "b": np.array([4.0])}
    assert clip_grad_norm(grads, 10.0) == pytest.approx(5.0)
    assert global_norm(grads) == pytest.approx(5.0)
    clip_grad_norm(grads, 1.0)
    assert global_norm(grads) == pytest.approx(1.0)
    np.testing.assert_allclose(grads["a"] / grads["b"], 0.75)


def test_stable_activations_at_extremes():
    x = np.array([-1000.0, 0.0, 1000.0])
    np.testing.assert_allclose(activations.sigmoid(x), [0.0, 0.5, 1.0])
    z = np.array([[1000.0, 0.0, -1000.0]])
    assert np.isfinite(activations.log_softmax(z)).all()
    np.testing.assert_allclose(activations.softmax(z).sum(), 1.0)
    np.testing.assert_allclose(np.exp(activations.log_softmax(z)), activations.softmax(z))


class ScriptedModel:
    """A quadratic loss whose 'validation loss' follows a scripted curve, to test the trainer."""

    def __init__(self, val_curve):
        self.val_curve = list(val_curve)
        self.calls = 0

    def init_params(self, rng, dtype=np.float64):
        return {"w": rng.standard_normal(3).astype(dtype)}

    def loss_and_grads(self, params, batch):
        (x,) = batch
        diff = params["w"] - x.mean(axis=0)
        return float(0.5 * diff @ diff), {"w": diff.copy()}

    def evaluate(self, params, batch):
        (x,) = batch
        if len(x) == 2:  # the validation set: report the scripted loss
            self.calls += 1
            return {"loss": self.val_curve[self.calls - 1]}
        diff = params["w"] - x.mean(axis=0)
        return {"loss": float(0.5 * diff @ diff)}


def _run(model, epochs=10, patience=2, min_delta=0.0, seed=0):
    rng = np.random.default_rng(seed)
    data = (rng.standard_normal((20, 3)),)
    params = model.init_params(np.random.default_rng(1))
    snapshots = []
    result = train(model, params, data, optimizer=MomentumSGD(0.1, 0.5), epochs=epochs, batch_size=4, rng=rng,
                   val_data=(np.zeros((2, 3)),), patience=patience, min_delta=min_delta,
                   callback=lambda entry: snapshots.append(params["w"].copy()))
    return result, snapshots


def test_trainer_restores_best_params_and_stops_after_patience():
    model = ScriptedModel([5.0, 3.0, 2.0, 2.5, 2.1, 1.0, 0.5])
    result, snapshots = _run(model, patience=2)
    assert result.best_epoch == 3
    assert result.stopped_epoch == 5
    assert "early stop" in result.stop_reason
    np.testing.assert_array_equal(result.params["w"], snapshots[2])
    assert not np.array_equal(result.params["w"], snapshots[-1])
    assert [h["epoch"] for h in result.history] == [1, 2, 3, 4, 5]


def test_trainer_min_delta_counts_small_gains_as_no_improvement():
    model = ScriptedModel([5.0, 4.95, 4.92, 4.91, 1.0])
    result, _ = _run(model, patience=3, min_delta=0.1)
    assert result.best_epoch == 1
    assert result.stopped_epoch == 4


def test_trainer_runs_to_epoch_limit_without_patience():
    result, _ = _run(ScriptedModel(np.linspace(5, 1, 6)), epochs=6, patience=None)
    assert result.stopped_epoch == 6 and result.best_epoch == 6
    assert "epoch limit" in result.stop_reason


def test_trainer_is_deterministic_bit_for_bit():
    a, _ = _run(ScriptedModel(np.linspace(5, 1, 8)), epochs=8)
    b, _ = _run(ScriptedModel(np.linspace(5, 1, 8)), epochs=8)
    np.testing.assert_array_equal(a.params["w"], b.params["w"])
    assert [h["train_loss"] for h in a.history] == [h["train_loss"] for h in b.history]


def test_trainer_reports_divergence_with_epoch():
    class Diverging(ScriptedModel):
        def loss_and_grads(self, params, batch):
            return float("nan"), {"w": np.zeros(3)}

    with pytest.raises(TrainingDiverged) as err:
        _run(Diverging([1.0] * 5))
    assert err.value.epoch == 1


class ScriptedLoss(ScriptedModel):
    """Mini-batch losses follow a script (5 mini-batches per epoch in `_run`), the gradients stay small."""

    def __init__(self, losses):
        super().__init__([1.0] * 10)
        self.losses = iter(losses)

    def loss_and_grads(self, params, batch):
        return next(self.losses), {"w": 0.01 * params["w"]}


def test_trainer_reports_a_loss_grown_past_max_loss_growth_as_divergence_with_epoch():
    with pytest.raises(TrainingDiverged) as err:
        _run(ScriptedLoss([2.0] * 7 + [2000.0] + [2.0] * 50), epochs=10, patience=None)
    assert MAX_LOSS_GROWTH == 100 and err.value.epoch == 2 and err.value.loss == 2000.0  # the 8th mini-batch


def test_trainer_keeps_training_while_the_loss_stays_below_max_loss_growth():
    result, _ = _run(ScriptedLoss([2.0, 190.0, 0.5, 199.0, 1.0] * 2), epochs=2, patience=None)
    assert result.stopped_epoch == 2 and "epoch limit" in result.stop_reason


def test_gradcheck_detects_a_wrong_gradient():
    def good(params, batch):
        return float(np.sum(np.sin(params["w"]))), {"w": np.cos(params["w"])}

    def bad(params, batch):
        return float(np.sum(np.sin(params["w"]))), {"w": 1.01 * np.cos(params["w"])}

    params = {"w": np.linspace(-1, 1, 5)}
    assert check_gradients(good, params, ())["w"] < 1e-9
    assert check_gradients(bad, params, ())["w"] > 1e-3
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0


class RecordingModel(ScriptedModel):
    """ScriptedModel that keeps every mini-batch its gradient was taken on."""

    def __init__(self, val_curve):
        super().__init__(val_curve)
        self.seen = []

    def loss_and_grads(self, params, batch):
        self.seen.append(batch)
        return super().loss_and_grads(params, batch)


def _run_with(model, augment, epochs=3):
    rng = np.random.default_rng(0)
    data = (rng.standard_normal((20, 3)),)
    params = model.init_params(np.random.default_rng(1))
    result = train(model, params, data, optimizer=MomentumSGD(0.1, 0.5), epochs=epochs, batch_size=4, rng=rng,
                   val_data=(np.zeros((2, 3)),), patience=None, train_eval_size=10, augment=augment)
    return result, data


def test_trainer_with_augment_none_is_bit_identical_to_an_identity_hook():
    plain, _ = _run_with(ScriptedModel(np.linspace(5, 1, 4)), None)
    identity, _ = _run_with(ScriptedModel(np.linspace(5, 1, 4)), lambda batch: batch)
    np.testing.assert_array_equal(plain.params["w"], identity.params["w"])  # the hook draws nothing from `rng`
    drop = ("seconds",)
    assert [{k: v for k, v in h.items() if k not in drop} for h in plain.history] == [
        {k: v for k, v in h.items() if k not in drop} for h in identity.history]


def test_trainer_calls_augment_once_per_mini_batch_and_trains_on_its_output():
    calls = []

    def shifted(batch):
        calls.append(batch)
        return (batch[0] + 100.0,)

    model = RecordingModel(np.linspace(5, 1, 4))
    result, (x,) = _run_with(model, shifted, epochs=3)
    assert len(calls) == 3 * 5  # 20 rows in mini-batches of 4, 3 epochs
    rows = {tuple(row) for row in x}
    assert all(tuple(row) in rows for (b,) in calls for row in b)  # the hook gets the untransformed mini-batch
    assert len(model.seen) == len(calls)
    for (given,), (seen,) in zip(calls, model.seen, strict=True):
        np.testing.assert_array_equal(seen, given + 100.0)  # the gradient is taken on what the hook returned
    # the training data moved towards the shifted mean; the (unaugmented) training loss says so
    assert np.all(result.params["w"] > 10) and result.history[-1]["train_loss"] > 100
