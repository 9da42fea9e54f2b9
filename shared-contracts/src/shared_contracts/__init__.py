"""The contracts of the model zoo: the data definitions of what crosses each boundary.

Standard library and numpy only. Each model package depends on this package and on nothing else inside the
repository; what a model does inside its own file is free, what it hands to the next component is defined
here.
"""

from shared_contracts.artifact import (
    ARTIFACT_MANIFEST_FILE_NAME,
    ONNX_FILE_NAME,
    ArtifactManifest,
    ParityReport,
    RepositoryEntry,
    RunReference,
    available_versions,
)
from shared_contracts.atomic import (
    read_json,
    write_bytes_atomically,
    write_json_atomically,
    write_text_atomically,
)
from shared_contracts.dataset import (
    DATASET_MANIFEST_FILE_NAME,
    DatasetManifest,
    ShardRecord,
    SplitRecord,
    decode_shard,
    read_shard,
    write_shard,
)
from shared_contracts.errors import ContractError
from shared_contracts.hashing import (
    canonical_json,
    sha256_bytes,
    sha256_directory,
    sha256_file,
    sha256_json,
)
from shared_contracts.model_configuration import (
    MODEL_CONFIGURATION_FILE_NAME,
    DynamicBatching,
    ModelConfiguration,
    VersionPolicy,
    parse_text_format,
)
from shared_contracts.predictor import Predictor, validate_inputs
from shared_contracts.run_record import (
    RUN_RECORD_FILE_NAME,
    RUN_STATUSES,
    BaselineComparison,
    CheckpointRecord,
    CodeLineage,
    EnvironmentRecord,
    EpochRecord,
    RunRecord,
)
from shared_contracts.tensors import (
    DATA_TYPES,
    VARIABLE_DIMENSION,
    TensorSpecification,
    data_type_from_configuration_name,
    data_type_from_protocol_name,
)
from shared_contracts.version import CONTRACTS_VERSION

__all__ = [
    "ARTIFACT_MANIFEST_FILE_NAME",
    "CONTRACTS_VERSION",
    "DATASET_MANIFEST_FILE_NAME",
    "DATA_TYPES",
    "MODEL_CONFIGURATION_FILE_NAME",
    "ONNX_FILE_NAME",
    "RUN_RECORD_FILE_NAME",
    "RUN_STATUSES",
    "VARIABLE_DIMENSION",
    "ArtifactManifest",
    "BaselineComparison",
    "CheckpointRecord",
    "CodeLineage",
    "ContractError",
    "DatasetManifest",
    "DynamicBatching",
    "EnvironmentRecord",
    "EpochRecord",
    "ModelConfiguration",
    "ParityReport",
    "Predictor",
    "RepositoryEntry",
    "RunRecord",
    "RunReference",
    "ShardRecord",
    "SplitRecord",
    "TensorSpecification",
    "VersionPolicy",
    "available_versions",
    "canonical_json",
    "data_type_from_configuration_name",
    "data_type_from_protocol_name",
    "decode_shard",
    "parse_text_format",
    "read_json",
    "read_shard",
    "sha256_bytes",
    "sha256_directory",
    "sha256_file",
    "sha256_json",
    "validate_inputs",
    "write_bytes_atomically",
    "write_json_atomically",
    "write_shard",
    "write_text_atomically",
]
