#!/bin/bash
# Train on a lent GPU machine (the `device` tool): the repository travels with .whl (wfdb,
# pypdfium2 wheels) and .pack/data (scripts/pack_training_data.py: train split only).
# Usage: scripts/gpu_train.sh CONFIG OUTDIR [SECONDS]. OUTDIR gets the moving-average and raw
# weights (state dicts), the log and the config; eval split never travels.
set -u
config=$1 out=$2 seconds=${3:-}
source scripts/gpu_env.sh
mkdir -p "$out" /tmp/run
python3 - "$config" "$seconds" <<'PY'
import json, sys, time
from core.train.loop import TrainConfig, train
d = json.load(open(sys.argv[1]))
if sys.argv[2]:
    d["max_seconds"] = float(sys.argv[2])
cfg = TrainConfig.from_json(d)
t0 = time.time()
def progress(p, v, last=[0.0]):
    if time.time() - last[0] > 15:
        last[0] = time.time()
        print(f"{time.time() - t0:6.0f} s  p={p:.3f}  " + "  ".join(f"{k}={x:.4f}" for k, x in v.items()), flush=True)
train(cfg, "/tmp/run", progress=progress)
PY
python3 - "$out" <<'PY'
import shutil, sys, torch
out = sys.argv[1]
state = torch.load("/tmp/run/checkpoint.pt", map_location="cpu", weights_only=True)
meta = {k: state[k] for k in ("step", "elapsed", "machine")}
torch.save({"model": state.get("ema_model", state["model"]), **meta}, f"{out}/model_ema.pt")
torch.save({"model": state["model"], **meta}, f"{out}/model_raw.pt")
for name in ("log.csv", "config.json"):
    shutil.copy(f"/tmp/run/{name}", f"{out}/{name}")
print("saved", meta)
PY
# CUDA check of the explanation path with the weights just trained (timings on this GPU)
python3 - <<'PY'
import time, torch
from core.io import load_image
from core.explain import explain
from core.labels import LABELS
from core.model.network import EcgAio, NetConfig
from core.model.preprocess import InputSpec
import json
cfg = json.load(open("/tmp/run/config.json"))
model = EcgAio(NetConfig.from_json(cfg["net"]))
model.load_state_dict(torch.load("/tmp/run/checkpoint.pt", map_location="cpu", weights_only=True)["model"])
model = model.eval().cuda()
from core.page import detect_geometry
rgb = load_image("resources/samples/sample_photo.jpg").rgb
geometry = detect_geometry(rgb).geometry  # the decoder runs on the panels found
times = []
for _ in range(5):
    t = time.perf_counter(); ex = explain(model, InputSpec.from_json(cfg["input"]), rgb, list(LABELS), geometry=geometry); torch.cuda.synchronize()
    times.append(time.perf_counter() - t)
print("cuda explain of", rgb.shape, "s:", [round(x, 3) for x in times], "probs", [round(float(p), 3) for p in ex.probabilities])
PY
