#!/usr/bin/env bash
# The whole pipeline so far on a built-in synthetic DICOM set, with the default
# SQLite catalog. Runs inside demo_output/ so the default catalog file
# (medcv_catalog.sqlite in the working directory) never touches a real one.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
OUT="$ROOT/demo_output"
export PYTHONPATH="$ROOT"
mkdir -p "$OUT" && cd "$OUT"
rm -rf dicom fetched fetched_* tfrecords train saved_model cardiac volumes dicom_results findings \
  findings_*

step() { printf '\n== %s\n$ %s\n' "$1" "${*:2}"; "${@:2}"; }

step "1. synthesize 200 DICOM images (+4 defective files)" \
  "$PY" -m dicom.synthesize --output_dir dicom --num_images 200 --seed 0
step "2. ingest into the default SQLite catalog (rejects listed, report as JSON)" \
  "$PY" -m dicom.create_database --directory dicom --workers 2 --report ingest_report.json
step "3. run it again: nothing is ingested twice" \
  "$PY" -m dicom.create_database --directory dicom --workers 2 --progress=false
step "4. fetch CHEST and ABDOMEN into images/ + labels/ + metadata.csv" \
  "$PY" -m dicom.fetch_image --query CHEST,ABDOMEN --directory fetched --metadata True
step "5. preprocess: contrast enhancing, value 4" \
  "$PY" -m dicom.preprocess_image --directory fetched --preprocess contrast_enhancing --value 4
step "6. convert the preprocessed folder to TFRecords (train/validation/test, no patient in two splits; the preprocessing is recorded and travels to the model)" \
  "$PY" "$ROOT/tf_convert_data.py" --dataset_name=dicom --dataset_dir=fetched_contrast_enhancing_4 \
  --output_name=dicom_train --output_dir=tfrecords --need_split=tvt_split --num_shards=2
step "7. read a training batch back through the tf.data pipeline" \
  "$PY" -c "import console.quiet_start
from datasets.dataset_factory import get_dataset
spec, ds = get_dataset('dicom', 'train', 'tfrecords', batch_size=8, is_training=True, image_size=(128, 128))
images, labels = next(iter(ds))
print('classes', spec.class_names, '| splits', {k: v.num_examples for k, v in spec.splits.items()})
print('batch', tuple(images.shape), images.dtype.name, 'labels', labels.numpy().tolist())"
step "8. train a ResNet-18 (v1) on the train split: 300 steps at 64x64 on the CPU" \
  "$PY" "$ROOT/train_image_classifier.py" --train_dir=train/resnet_v1_18 \
  --dataset_dir=tfrecords --dataset_name=dicom --model_name=resnet_v1_18 \
  --train_image_size=64 --batch_size=16 --max_number_of_steps=300 --optimizer=adam \
  --opt_epsilon=1e-7 --learning_rate=0.002 --log_every_n_steps=50 --seed=0 \
  --export_dir=saved_model
step "9. evaluate on the test split: intervals, calibration, subgroups from the catalog; metrics.json, report.html and model_card.md in eval_test/" \
  "$PY" "$ROOT/eval_image_classifier.py" --checkpoint_path=train/resnet_v1_18 \
  --dataset_dir=tfrecords --dataset_split_name=test --eval_dir=eval_test \
  --subgroups=PatientSex,ViewPosition --min_subgroup_size=4
{ find dicom -path '*series_chest*' -name '*.dcm' | sort | sed -n '1,4p'
  find dicom -path '*series_abdomen*' -name '*.dcm' | sort | sed -n '1,4p'
  echo dicom/defective/truncated.dcm; } > classify_input.txt
step "10. classify DICOM files (a truncated one included) with the exported SavedModel; each result also as a DICOM SR (TID 1500)" \
  "$PY" "$ROOT/classify_image.py" --infile=classify_input.txt --tfrecord=False \
  --outfile=prediction_result.txt --checkpoint_path=saved_model --top_k=2 \
  --dicom_output_dir=dicom_results
cut -f1-3 prediction_result.txt | sed 's#^dicom/##'

printf '\n== Multi-label leg\n'
step "L1. synthesize 480 chest radiographs with planted findings and their ChestX-ray14 and CheXpert tables" \
  "$PY" -m dicom.synthesize --output_dir findings --num_images 480 --size 64 --findings \
  --defects=false --seed 1
# A catalog of their own: ChestX-ray14's file names and CheXpert's relative paths would
# also match the first leg's images (import_labels reports such keys as ambiguous).
FINDINGS_DB="sqlite:///findings_catalog.sqlite"
step "L2. ingest them into a catalog of their own" \
  "$PY" -m dicom.create_database --directory findings --workers 2 --db_url "$FINDINGS_DB"
step "L3. import the ChestX-ray14 table (Image Index, Finding Labels) as the label set nih14" \
  "$PY" -m dicom.import_labels --table findings/Data_Entry_2017.csv --label_set nih14 \
  --format chestxray14 --report labels_report.json --db_url "$FINDINGS_DB"
step "L4. import the CheXpert table (Path, 14 observations with -1.0 and blanks) as chexpert" \
  "$PY" -m dicom.import_labels --table findings/train.csv --label_set chexpert --format chexpert \
  --db_url "$FINDINGS_DB"
step "L5. fetch the chexpert set: images/ and labels.csv (1, 0, -1 or blank per label)" \
  "$PY" -m dicom.fetch_image --label_set chexpert --directory fetched_findings \
  --db_url "$FINDINGS_DB"
head -3 fetched_findings/labels.csv | cut -c1-160
step "L6. convert to multi-label records: uncertain entries masked out (U-Ignore), splits stratified over every label, no patient in two splits" \
  "$PY" "$ROOT/tf_convert_data.py" --dataset_dir=fetched_findings --output_dir=findings_records \
  --need_split=tvt_split --validation_size=0.2 --test_size=0.25 --uncertain=ignore
step "L7. train a ResNet-18 with the masked sigmoid loss, rare findings weighted (--pos_weight=auto)" \
  "$PY" "$ROOT/train_image_classifier.py" --train_dir=findings_train \
  --dataset_dir=findings_records --model_name=resnet_v1_18 --train_image_size=64 \
  --batch_size=16 --max_number_of_steps=200 --optimizer=adam --opt_epsilon=1e-7 \
  --learning_rate=0.002 --log_every_n_steps=100 --seed=0 --pos_weight=auto
step "L8. evaluate: per-label AUROC, AP, sensitivity/specificity at thresholds chosen on validation (Fracture has no pixel signal: near 0.5)" \
  "$PY" "$ROOT/eval_image_classifier.py" --checkpoint_path=findings_train \
  --dataset_split_name=test --eval_dir=findings_eval
find findings -name '*.dcm' | sort | sed -n '1,6p' > findings_input.txt
step "L9. classify DICOM files: findings above the thresholds, every probability, one SR each" \
  "$PY" "$ROOT/classify_image.py" --infile=findings_input.txt \
  --checkpoint_path=findings_train --outfile=findings_result.txt \
  --dicom_output_dir=findings_sr
tail -n +2 findings_result.txt | cut -f1,2 | sed 's#^findings/##'
step "L10. export the multi-label SavedModel (probabilities and findings; the thresholds travel)" \
  "$PY" "$ROOT/export_model.py" --checkpoint_path=findings_train \
  --export_dir=findings_saved_model

printf '\n== Segmentation leg\n'
step "11. synthesize cardiac MR: 8 patients x 10 slices with i-/o-contours (defects planted)" \
  "$PY" -m dicom.synthesize_cardiac --output_dir cardiac/raw --num_patients 8 --slices 10
step "12. contours -> masks, QC overlays, cardiac.h5 and the missing-data report" \
  "$PY" -m dicom.contours --data_dir cardiac/raw --output_dir cardiac/masks --overlays
step "13. convert image + mask pairs, train/validation/test" \
  "$PY" "$ROOT/tf_convert_data.py" --dataset_name=segmentation --dataset_dir=cardiac/masks \
  --output_name=cardiac --output_dir=cardiac/tfrecords --need_split=tvt_split \
  --validation_size=0.15 --test_size=0.15
step "14. train a small UNet (depth 3, 16 filters) for 300 steps" \
  "$PY" "$ROOT/train_image_classifier.py" --train_dir=cardiac/train --dataset_dir=cardiac/tfrecords \
  --model_name=unet --model_options=depth=3,base_filters=16 --train_image_size=128 \
  --batch_size=8 --max_number_of_steps=300 --optimizer=adam --opt_epsilon=1e-7 \
  --learning_rate=0.003 --weight_decay=0 --log_every_n_steps=100 --seed=0
step "15. evaluate: Dice, IoU, pixel accuracy, HD95 on the test split" \
  "$PY" "$ROOT/eval_image_classifier.py" --checkpoint_path=cardiac/train \
  --dataset_split_name=test --eval_dir=cardiac/eval_test
ls cardiac/masks/images | sed -n '1,3p' | sed 's#^#cardiac/masks/images/#' > cardiac/segment_input.txt
step "16. predict masks and overlays for three slices" \
  "$PY" "$ROOT/classify_image.py" --infile=cardiac/segment_input.txt \
  --checkpoint_path=cardiac/train --output_dir=cardiac/predicted --outfile=cardiac/predicted.txt
find cardiac/raw/dicoms -name '*.dcm' | sort | sed -n '1,20p' > cardiac/dicom_input.txt
step "16b. segment the MR series straight from DICOM: masks as PNGs and one DICOM SEG per series" \
  "$PY" "$ROOT/classify_image.py" --infile=cardiac/dicom_input.txt \
  --checkpoint_path=cardiac/train --output_dir=cardiac/predicted_dicom \
  --outfile=cardiac/predicted_dicom.txt --dicom_output_dir=cardiac/dicom_results

printf '\n== 3-D synthetic volumes leg\n'
step "17. fake TotalSegmentator templates: 3 subjects of organ, rib and vertebra masks" \
  "$PY" -m datasets.synthetic_volumes.fake_totalsegmentator --output_dir volumes/templates \
  --num_subjects 3
step "18. steps 0-3: label ensembles, paired views, train/val HDF5 (6 samples of 64^3)" \
  "$PY" -m datasets.synthetic_volumes.generate_training_data \
  --totalsegmentator_path volumes/templates --output_dir volumes --n_ensembles 6 \
  --val_count 2 --side_length 64 --max_workers 2

printf '\n== done. In %s:\n' "$OUT"
printf '  catalog      medcv_catalog.sqlite (%s)\n' "$(du -h medcv_catalog.sqlite | cut -f1)"
printf '  report       ingest_report.json\n'
printf '  fetched      fetched/images: %s PNGs, labels: %s\n' \
  "$(ls fetched/images | wc -l)" "$(cat fetched/labels/*.txt | sort | uniq -c | tr -s ' ' | tr '\n' ',')"
printf '  preprocessed fetched_contrast_enhancing_4/images: %s PNGs\n' \
  "$(ls fetched_contrast_enhancing_4/images | wc -l)"
printf '  records      tfrecords: %s shards, labels.txt, dataset_spec.json, tfds metadata\n' \
  "$(ls tfrecords/*.tfrecord | wc -l)"
printf '  model        train/resnet_v1_18 (checkpoints, TensorBoard), saved_model/\n'
printf '  evaluation   eval_test/report.html, eval_test/model_card.md, eval_test/metrics.json\n'
printf '  predictions  prediction_result.txt, dicom_results/ (SRs, results.json)\n'
printf '  multi-label  findings_records, findings_train (thresholds.json), findings_eval\n'
printf '               (metrics.json, roc_curves.png), findings_result.txt, findings_sr/\n'
printf '  cardiac      cardiac/masks (images, masks, overlays, cardiac.h5, report.json),\n'
printf '               cardiac/eval_test/metrics.json, cardiac/predicted (masks, overlays),\n'
printf '               cardiac/dicom_results (one DICOM SEG per MR series)\n'
printf '  volumes      volumes/h5_w_segs/{train,val}_data.hdf5 (view pairs + labels)\n'
printf '  TensorBoard: %s -m tensorboard.main --logdir %s/train\n' "$PY" "$OUT"
