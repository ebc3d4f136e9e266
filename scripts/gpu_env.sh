# Sourced by the scripts that run on a lent GPU machine (the `device` tool): the repository travels
# with .whl (wfdb, pypdfium2 wheels) and .pack/data (scripts/pack_training_data.py: train split only).
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD ECG_AIO_DATA=$PWD/.pack/data PYTHONUNBUFFERED=1
mount -o remount,size=32G /dev/shm 2>/dev/null; df -h /dev/shm | tail -1  # DataLoader workers pass batches through it
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null
