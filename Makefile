# `make demo` and `make test` work on a fresh clone: they create .venv and
# install what is missing (a stamp file makes the second run instant).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.medcv-installed

.PHONY: install test demo lint bench bench-ingest bench-ingest-full bench-input bench-input-full bench-train bench-cpu-kernels bench-validation bench-bootstrap bench-report bench-classify \
	bench-pacs bench-results bench-node bench-deid bench-labels bench-volumes synthetic-volumes constraints figures clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --no-compile --disable-pip-version-check -c constraints.txt ".[dev]"
	@# Byte-compiled on every core at once, where pip compiles file by file: 97 s in all
	@# instead of 121 s on 2 cores. A file that does not compile is compiled on import.
	-@$(PY) -m compileall -q -j 0 "$$($(PY) -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")" > /dev/null
	@# The checkout on the venv's path: every command runs from any directory, and no
	@# distribution named `dicom` or `datasets` is installed (those names belong to others).
	$(PY) -c "import pathlib, sysconfig; pathlib.Path(sysconfig.get_paths()['purelib'], 'medcv-checkout.pth').write_text('$(CURDIR)\n')"
	@touch $(STAMP)

test: install
	bash scripts/ensure_mariadb.sh
	bash scripts/ensure_postgres.sh
	bash scripts/ensure_pacs_tools.sh
	bash scripts/ensure_ocr.sh
	bash scripts/ensure_chromium.sh
	$(PY) -m ruff check .
	@# mypy (one core, half a minute cold) runs beside the tests; its lines come after theirs.
	@# Three test workers on two cores: a third keeps the cores busy while one waits on a
	@# server or a subprocess (with the shared test models: 873 s, against 932 s with two
	@# workers and none).
	@$(PY) -m mypy > $(VENV)/mypy.log 2>&1 & mypy=$$!; \
	$(PY) -m pytest -n 3 --dist loadfile --no-loadscope-reorder --durations=30; tests=$$?; \
	wait $$mypy; typed=$$?; echo "$(PY) -m mypy"; cat $(VENV)/mypy.log; \
	test $$tests -eq 0 && test $$typed -eq 0

demo: install
	bash scripts/demo.sh

lint: install
	$(PY) -m ruff check .
	$(PY) -m mypy

bench: bench-ingest

bench-ingest: install
	bash scripts/ensure_mariadb.sh
	$(PY) -m bench.ingest

bench-ingest-full: install
	bash scripts/ensure_mariadb.sh
	$(PY) -m bench.ingest --size 2048 --num_files 96 --rounds 2

bench-input: install
	$(PY) -m bench.input_pipeline

bench-input-full: install
	$(PY) -m bench.input_pipeline --source dicom --size 2048 --num_images 160 --image_size 299 \
		--max_image_size 512 --epochs 3 --work_dir bench_output/input_pipeline_2048

bench-pacs: install
	bash scripts/ensure_pacs_tools.sh
	$(PY) -m bench.pacs --num_files 300 --push_files 500 --size 512

bench-results: install
	$(PY) -m bench.results

bench-node: install
	bash scripts/ensure_pacs_tools.sh
	$(PY) -m bench.node

bench-labels: install
	bash scripts/ensure_mariadb.sh
	$(PY) -m bench.labels --rows 100000

bench-deid: install
	bash scripts/ensure_ocr.sh
	$(PY) -m bench.deidentify

bench-train: install
	$(PY) -m bench.train_step

bench-cpu-kernels: install
	$(PY) -m bench.cpu_kernels

bench-validation: install
	$(PY) -m bench.validation_in_training

bench-bootstrap: install
	$(PY) -m bench.bootstrap

bench-report: install
	$(PY) -m bench.report

bench-classify: install
	$(PY) -m bench.classify

figures: install
	$(PY) -m dicom.preprocessing_gallery --output docs/preprocessing.png
	$(PY) -m datasets.synthetic_volumes.sample_figure --output docs/synthetic_volumes.png

# The 3-D generator end to end on fake TotalSegmentator templates (64^3, a handful).
synthetic-volumes: install
	$(PY) -m datasets.synthetic_volumes.fake_totalsegmentator \
		--output_dir synthetic_volumes_output/templates --num_subjects 4
	$(PY) -m datasets.synthetic_volumes.generate_training_data \
		--totalsegmentator_path synthetic_volumes_output/templates \
		--output_dir synthetic_volumes_output --n_ensembles 8 --val_count 2 --side_length 64

bench-volumes: install
	$(PY) -m bench.synthetic_volumes

constraints: install
	(grep '^#' constraints.txt; $(PY) -m pip freeze --exclude medcv) > constraints.txt.new
	mv constraints.txt.new constraints.txt

clean:
	rm -rf $(VENV) demo_output bench_output synthetic_volumes_output .pytest_cache .ruff_cache
