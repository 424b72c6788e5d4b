# The commands the README gives. `make setup` is implied by the others.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export PYTHONPATH := $(CURDIR)

.PHONY: setup test lint format run class evaluate extras report clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt
	touch $@

## Run every test (what CI runs).
test: setup
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## Start the app on the shipped checkpoints (settings: streamlit_config.toml; PORT=8502 to move it).
run: setup
	$(PY) -m app $(if $(PORT),--server.port=$(PORT))

## A class on WORKERS app processes behind HAProxy on PORT (docs/class-server.md).
class: setup
	$(PY) deploy/class_server.py --workers $(or $(WORKERS),2) --port $(or $(PORT),8500)

## Held-out figures of every shipped checkpoint (written into each card.json when a figure changed).
evaluate: setup
	$(PY) -m engine evaluate --write-card --checkpoint pretrained/mnist-classifier
	$(PY) -m engine evaluate --write-card --checkpoint pretrained/sprites-classifier
	$(PY) -m engine evaluate --write-card --checkpoint pretrained/mnist-flow
	$(PY) -m engine evaluate --write-card --checkpoint pretrained/mnist-vae
	$(PY) -m engine evaluate --write-card --checkpoint pretrained/mnist-gan
	$(PY) -m engine evaluate --write-card --checkpoint pretrained/mnist-vaeac
	$(PY) -m engine evaluate --write-card --checkpoint pretrained/sprites-vae --k 100
	$(PY) -m engine evaluate --write-card --checkpoint pretrained/mnist-pixelcnn
	$(PY) -m engine evaluate --write-card --checkpoint pretrained/mnist-rbm
	$(PY) -m engine evaluate --write-card --checkpoint pretrained/mnist-ebm
	$(PY) -m engine evaluate --write-card --checkpoint pretrained/mnist-diffusion

## Latent maps (fits UMAP: minutes each) and anomaly references of the shipped models.
extras: setup
	for m in mnist-vae mnist-flow mnist-gan sprites-vae; do \
		$(PY) -m engine map --checkpoint pretrained/$$m || exit 1; done
	for m in mnist-vae mnist-flow mnist-gan; do \
		$(PY) -m engine score --checkpoint pretrained/$$m --build-reference || exit 1; done

## Offline evaluation report of the shipped checkpoints into reports/latest (7.8 min of CPU before
## the diffusion, PixelCNN and energy-based models joined it; longer now).
report: setup
	$(PY) -m engine report --out reports/latest

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
