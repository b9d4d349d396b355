#!/usr/bin/env bash
# Reproduce the reference research experiment with the command line and
# publish its report in the docs.
#
#   bash benchmarks/reproduce_research.sh [path/to/fer2013.csv.gz]
#
# The "seed" CNN, 50 epochs, batch 100, Adam with learning rate 0.001, dropout
# 0.25/0.5, trained on FER2013 Training; PublicTest is evaluated after every
# epoch (only watched, never trained on) and scored at the end. Training is
# checkpointed every epoch: rerun the script after an interruption and it
# resumes. A model already at results/research/seed.zip is evaluated as is.
# About an hour on 2 idle CPU cores.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
data=${1:-${FER_CLASSIFIER_DATA:-$here/../../shared/data/fer2013/fer2013.csv.gz}}
out=${OUT:-$here/results/research}
mkdir -p "$out"

if [ ! -f "$out/seed.zip" ]; then
  fer-classifier train --data "$data" --subset Training \
    --architecture seed --epochs 50 --batch-size 100 --learning-rate 0.001 \
    --conv-dropout 0.25 --dense-dropout 0.5 --validation-subset PublicTest \
    --random-state 0 --checkpoint "$out/seed.ckpt" -o "$out/seed.zip"
fi
fer-classifier evaluate "$out/seed.zip" --data "$data" --subset PublicTest \
  --report-dir "$out/report"

# Publish: the report's figures and plots go into the docs, unedited.
dest="$here/../docs/_static/research"
mkdir -p "$dest"
cp "$out/report/"*.png "$out/report/report.json" "$out/report/report.md" "$dest/"
fer-classifier info "$out/seed.zip" --json > "$dest/model_info.json"
python "$here/make_docs.py"
