"""The YAML experiment file, turned into ``Tuner`` arguments (driver side, no Ray, no TensorFlow).

``_schema.py`` (one pydantic model per section), ``_file.py`` (load, overrides, resolve,
build the Tuner), ``_data.py`` (bundled datasets, loaders, validation), ``_parquet.py``
(Parquet files, local or ``s3://``) and ``_refs.py`` (importing the user code a file names).
Every problem is one :class:`ExperimentError` naming its field.
"""

from __future__ import annotations

from raytune_hpt.errors import ExperimentError
from raytune_hpt.experiment._data import (
    DATASETS,
    WorkerLoader,
    check_section,
    load_dataset,
    normalize_loaded,
    prepare,
    prepare_section,
    split_validation,
)
from raytune_hpt.experiment._file import (
    EXPERIMENT_FILE,
    FIT_HYPERPARAMETERS,
    REDACTED,
    Resolved,
    apply_overrides,
    build_tuner,
    experiment_yaml,
    load_experiment,
    load_saved_experiment,
    parse_experiment,
    redacted_yaml,
    resolve,
    save_experiment,
    secret_fields,
    storage_path,
)
from raytune_hpt.experiment._parquet import read_parquet
from raytune_hpt.experiment._refs import check_ref, import_object, is_file_ref, join_path
from raytune_hpt.experiment._schema import (
    DataSpec,
    Experiment,
    FitSpec,
    HyperparameterSpec,
    ObjectiveSpec,
    ResourcesSpec,
    SchedulerSpec,
    SearcherSpec,
)

__all__ = [
    "DATASETS",
    "EXPERIMENT_FILE",
    "FIT_HYPERPARAMETERS",
    "REDACTED",
    "DataSpec",
    "Experiment",
    "ExperimentError",
    "FitSpec",
    "HyperparameterSpec",
    "ObjectiveSpec",
    "Resolved",
    "ResourcesSpec",
    "SchedulerSpec",
    "SearcherSpec",
    "WorkerLoader",
    "apply_overrides",
    "build_tuner",
    "check_ref",
    "check_section",
    "experiment_yaml",
    "import_object",
    "is_file_ref",
    "join_path",
    "load_dataset",
    "load_experiment",
    "load_saved_experiment",
    "normalize_loaded",
    "parse_experiment",
    "prepare",
    "prepare_section",
    "read_parquet",
    "redacted_yaml",
    "resolve",
    "save_experiment",
    "secret_fields",
    "split_validation",
    "storage_path",
]
