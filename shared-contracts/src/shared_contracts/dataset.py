"""The data backend -> model boundary: a prepared dataset is a directory with a manifest and shard files.

``manifest.json`` names the dataset, its version, source and license, the feature specifications (the shape
of one example) and the splits; each split is a list of shards with their row counts and SHA-256. A shard is
an uncompressed numpy ``.npz`` archive holding one array per feature, written and read with
``allow_pickle=False`` so that loading data never executes code. The same arrays always give the same shard
bytes, so preparing a dataset twice gives the same fingerprint; the manifest's fingerprint is the lineage of
the data.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import struct
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy

from shared_contracts._fields import FieldReader
from shared_contracts.atomic import read_json, write_bytes_atomically, write_json_atomically
from shared_contracts.errors import ContractError
from shared_contracts.hashing import sha256_bytes, sha256_json
from shared_contracts.tensors import TensorSpecification
from shared_contracts.version import CONTRACTS_VERSION

DATASET_MANIFEST_FILE_NAME = "manifest.json"
"""The manifest's file name inside a prepared dataset directory."""


@dataclass(frozen=True)
class ShardRecord:
    """One shard file of a split: its path relative to the dataset directory, row count and SHA-256."""

    path: str
    """The shard's path relative to the dataset directory, with forward slashes."""
    rows: int
    """How many examples the shard holds."""
    sha256: str
    """The SHA-256 digest of the shard file."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"path": self.path, "rows": self.rows, "sha256": self.sha256}

    @classmethod
    def from_reader(cls, reader: FieldReader) -> ShardRecord:
        """Parse from a field reader."""
        path = reader.required("path", str)
        problem = _shard_path_problem(path)
        if problem is not None:
            raise reader.error("path", problem)
        rows = reader.required("rows", int)
        if rows < 1:
            raise reader.error("rows", f"must be at least 1, found {rows}")
        return cls(path, rows, reader.hexadecimal_digest("sha256"))


@dataclass(frozen=True)
class SplitRecord:
    """A named split (``train``, ``validation``, ``test``, ...) and the shards that hold it."""

    name: str
    """The split's name."""
    shards: tuple[ShardRecord, ...]
    """The shards, in order."""

    @property
    def rows(self) -> int:
        """How many examples the split holds in all."""
        return sum(shard.rows for shard in self.shards)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {"name": self.name, "rows": self.rows, "shards": [s.to_dict() for s in self.shards]}

    @classmethod
    def from_reader(cls, reader: FieldReader) -> SplitRecord:
        """Parse from a field reader, checking that the stated row count is the shards' sum."""
        split = cls(reader.required("name", str), reader.items("shards", ShardRecord.from_reader))
        if not split.shards:
            raise reader.error("shards", "a split needs at least one shard")
        stated = reader.required("rows", int)
        if stated != split.rows:
            raise reader.error("rows", f"says {stated} but the shards hold {split.rows} rows")
        return split


@dataclass(frozen=True)
class DatasetManifest:
    """The manifest of a prepared dataset: what it is, where it came from, and its shards."""

    name: str
    """The dataset's name, for example ``digits``."""
    version: str
    """The version of the preparation, changed whenever the prepared content would change."""
    source: str
    """Where the raw data came from (a package and function, or an address)."""
    license: str
    """The license of the raw data."""
    features: tuple[TensorSpecification, ...]
    """The features of one example: name, dtype and per-example shape."""
    splits: tuple[SplitRecord, ...]
    """The splits and their shards."""
    description: str = ""
    """Free text: how the data was prepared (seed, split fractions, normalisation)."""
    contracts_version: str = CONTRACTS_VERSION
    """The version of the contracts that wrote the manifest."""
    preparation: dict[str, Any] = field(default_factory=dict)
    """The parameters of the preparation (seed, split fractions, ...), as JSON values."""

    def __post_init__(self) -> None:
        names = [feature.name for feature in self.features]
        if not names:
            raise ContractError("a dataset needs at least one feature", field="features")
        if len(set(names)) != len(names):
            raise ContractError(f"feature names must be unique, found {names}", field="features")
        split_names = [split.name for split in self.splits]
        if not split_names:
            raise ContractError("a dataset needs at least one split", field="splits")
        if len(set(split_names)) != len(split_names):
            raise ContractError(f"split names must be unique, found {split_names}", field="splits")
        paths = [shard.path for split in self.splits for shard in split.shards]
        repeated = sorted({path for path in paths if paths.count(path) > 1})
        if repeated:
            raise ContractError(
                f"every shard must appear once, but {repeated} appear more than once "
                "(a shard in two splits would leak examples between them)",
                field="splits",
            )

    def feature(self, name: str) -> TensorSpecification:
        """The specification of one feature, or an error that lists the features there are."""
        for feature in self.features:
            if feature.name == name:
                return feature
        available = ", ".join(feature.name for feature in self.features)
        raise ContractError(f"dataset {self.name!r} has no feature {name!r}; it has: {available}")

    def split(self, name: str) -> SplitRecord:
        """One split, or an error that lists the splits there are."""
        for split in self.splits:
            if split.name == name:
                return split
        available = ", ".join(split.name for split in self.splits)
        raise ContractError(f"dataset {self.name!r} has no split {name!r}; it has: {available}")

    def fingerprint(self) -> str:
        """The SHA-256 of the dataset's identity and content: name, version, features and every shard.

        Free-text fields and the contracts version do not change it; any change of data does.
        """
        return sha256_json(
            {
                "name": self.name,
                "version": self.version,
                "features": [feature.to_dict() for feature in self.features],
                "splits": [split.to_dict() for split in self.splits],
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (the fingerprint is included for readers; it is recomputed on load)."""
        return {
            "contracts_version": self.contracts_version,
            "name": self.name,
            "version": self.version,
            "source": self.source,
            "license": self.license,
            "description": self.description,
            "preparation": self.preparation,
            "features": [feature.to_dict() for feature in self.features],
            "splits": [split.to_dict() for split in self.splits],
            "fingerprint": self.fingerprint(),
        }

    @classmethod
    def from_dict(cls, data: Any, source: str | None = None) -> DatasetManifest:
        """Parse the JSON form, raising :class:`ContractError` that names ``source`` and the field."""
        reader = FieldReader(data, source)
        try:
            manifest = cls(
                name=reader.required("name", str),
                version=reader.required("version", str),
                source=reader.required("source", str),
                license=reader.required("license", str),
                features=reader.items("features", TensorSpecification.from_reader),
                splits=reader.items("splits", SplitRecord.from_reader),
                description=reader.optional("description", str, ""),
                contracts_version=reader.contracts_version(),
                preparation=reader.optional("preparation", dict, {}),
            )
        except ContractError as error:
            if error.source is not None:
                raise
            raise ContractError(error.reason, source=source, field=error.field) from None
        stated = reader.optional("fingerprint", str)
        if stated is not None and stated != manifest.fingerprint():
            raise reader.error(
                "fingerprint",
                "does not match the manifest's content; the manifest was edited by hand or is corrupt. "
                "Prepare the dataset again",
            )
        return manifest

    def save(self, directory: str | Path) -> Path:
        """Write ``manifest.json`` into ``directory`` atomically; returns its path."""
        return write_json_atomically(Path(directory) / DATASET_MANIFEST_FILE_NAME, self.to_dict())

    @classmethod
    def load(cls, directory: str | Path) -> DatasetManifest:
        """Read the manifest of a prepared dataset directory."""
        path = Path(directory) / DATASET_MANIFEST_FILE_NAME
        if not path.exists():
            raise ContractError(
                "no prepared dataset here (the manifest is missing); run the model's "
                "`prepare-data` command first, or point to the right dataset directory",
                source=path,
            )
        return cls.from_dict(read_json(path, "dataset manifest"), str(path))

    def verify(self, directory: str | Path) -> None:
        """Check that every shard exists and has its recorded SHA-256; raise on the first mismatch."""
        for split in self.splits:
            for shard in split.shards:
                read_shard(directory, shard, self.features)


def _shard_path_problem(path: str) -> str | None:
    """What is wrong with a shard's path, or ``None``: a relative path inside the dataset directory."""
    relative = PurePosixPath(path)
    if not relative.parts or relative.is_absolute() or ".." in relative.parts or "\\" in path:
        return (
            "must be a path relative to the dataset directory, with forward slashes and no '..', "
            f"found {path!r}"
        )
    return None


def write_shard(
    directory: str | Path,
    relative_path: str,
    arrays: Mapping[str, numpy.ndarray],
    features: tuple[TensorSpecification, ...],
) -> ShardRecord:
    """Write one shard atomically after checking its arrays against the features; returns its record.

    The archive is what ``numpy.savez`` writes (one ``<feature>.npy`` member per feature, uncompressed), but
    written member by member, so that any feature name works (``numpy.savez`` takes its members as keyword
    arguments, which a feature called ``file`` or ``allow_pickle`` would collide with) and the bytes depend
    on nothing but the arrays.
    """
    path = Path(directory) / relative_path
    problem = _shard_path_problem(relative_path)
    if problem is not None:
        raise ContractError(problem, source=path, field="path")
    rows = _check_shard_arrays(arrays, features, str(path))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for feature in features:
            with archive.open(f"{feature.name}.npy", "w", force_zip64=True) as member:
                numpy.lib.format.write_array(member, arrays[feature.name], allow_pickle=False)
    data = buffer.getvalue()
    write_bytes_atomically(path, data)
    return ShardRecord(relative_path, rows, sha256_bytes(data))


def read_shard(
    directory: str | Path, shard: ShardRecord, features: tuple[TensorSpecification, ...]
) -> dict[str, numpy.ndarray]:
    """Read one shard, verifying its SHA-256, its arrays and its row count; never unpickles anything.

    The file is read into one writable buffer, a chunk at a time, each chunk hashed while it is still in
    the processor's cache; the arrays are then views of that buffer (see :func:`decode_shard`). So reading
    a shard costs one read and one digest, and nothing else: on several threads, as fast as reading the
    files plainly (``benchmarks/data-backend``).
    """
    path = Path(directory) / shard.path
    digest = hashlib.sha256()
    try:
        with open(path, "rb", buffering=0) as handle:
            size = os.fstat(handle.fileno()).st_size
            data = numpy.empty(size, dtype=numpy.uint8)  # not zeroed first, unlike bytearray(size)
            view, filled = memoryview(data), 0
            while filled < size and (count := handle.readinto(view[filled : filled + _READ_CHUNK_SIZE])):
                digest.update(view[filled : filled + count])
                filled += count
    except FileNotFoundError:
        raise ContractError("the shard file is missing; prepare the dataset again", source=path) from None
    except OSError as error:
        raise ContractError(f"the shard file cannot be read ({error})", source=path) from None
    return _decode_hashed(data[:filled], digest.hexdigest(), shard, features, str(path))


_READ_CHUNK_SIZE = 1024 * 1024
"""How much of a shard file is read, then hashed, at a time: small enough to stay in the cache (measured
faster than 2 MiB and more), large enough to cost few system calls."""


def decode_shard(
    data: bytes | bytearray | memoryview | numpy.ndarray,
    shard: ShardRecord,
    features: tuple[TensorSpecification, ...],
    source: str,
) -> dict[str, numpy.ndarray]:
    """Check and decode a shard's bytes however they were fetched (a local file, object storage, memory).

    Verifies the SHA-256, the archive, the arrays and the row count; never unpickles anything. ``source``
    names where the bytes came from, for the error messages.

    Decoding copies nothing where it can: an uncompressed member whose data is aligned for its dtype
    becomes a view of ``data`` when ``data`` is writable (a ``bytearray``, a numpy buffer); from read-only
    bytes, or where a member is compressed or misaligned, the array is a copy. Either way every array is
    writable and aligned. The members' CRC-32 are not computed again: the SHA-256 already covers every
    byte of the file.
    """
    return _decode_hashed(data, sha256_bytes(data), shard, features, source)


def _decode_hashed(
    data: bytes | bytearray | memoryview | numpy.ndarray,
    digest: str,
    shard: ShardRecord,
    features: tuple[TensorSpecification, ...],
    source: str,
) -> dict[str, numpy.ndarray]:
    """:func:`decode_shard` for bytes whose SHA-256 ``digest`` is already known."""
    path = source
    if digest != shard.sha256:
        raise ContractError(
            "the shard's SHA-256 does not match the manifest: the file is corrupt or was changed; "
            "prepare the dataset again",
            source=path,
        )
    buffer = memoryview(data).cast("B")
    try:
        archive = zipfile.ZipFile(_BufferFile(buffer))
    except zipfile.BadZipFile:
        raise ContractError("the shard is not a numpy .npz archive", source=path) from None
    arrays: dict[str, numpy.ndarray] = {}
    with archive:
        for member in archive.infolist():
            name = member.filename.removesuffix(".npy")
            if name in arrays:
                raise ContractError(f"the shard holds the member {member.filename!r} twice", source=path)
            try:
                array = _stored_array(buffer, member)
                if array is None:  # the general path, which also reports what is wrong
                    with archive.open(member) as stream:
                        array = numpy.lib.format.read_array(stream, allow_pickle=False)
            except (
                ValueError,
                OSError,
                zipfile.BadZipFile,
                EOFError,
                RuntimeError,
                NotImplementedError,
            ) as error:
                # zipfile's EOFError has no message; Python 3.13's zipfile refuses the same archive earlier.
                reason = str(error) or "a member's data runs past the end of the file"
                raise ContractError(
                    f"the shard cannot be read as a numpy archive ({reason})", source=path
                ) from None
            arrays[name] = array
    rows = _check_shard_arrays(arrays, features, str(path))
    if rows != shard.rows:
        raise ContractError(f"the shard holds {rows} rows, the manifest says {shard.rows}", source=path)
    return arrays


class _BufferFile(io.RawIOBase):
    """A read-only, seekable file over a memory buffer, without the copy ``io.BytesIO`` makes of it."""

    def __init__(self, buffer: memoryview) -> None:
        self._buffer = buffer
        self._position = 0

    def readable(self) -> bool:
        """Always: the file is read."""
        return True

    def seekable(self) -> bool:
        """Always: ``zipfile`` seeks to the central directory at the end."""
        return True

    def tell(self) -> int:
        """The current position."""
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move to ``offset`` from the start, the current position or the end; returns the new position."""
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._buffer)}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, target: Any) -> int:
        """Copy the next bytes into ``target``; returns how many (0 at the end)."""
        chunk = self._buffer[self._position : self._position + len(target)]
        target[: len(chunk)] = chunk
        self._position += len(chunk)
        return len(chunk)


_LOCAL_HEADER = struct.Struct("<4s22xHH")
"""A zip member's local header: signature, then the lengths of its file name and extra field at bytes 26-29."""

_ENCRYPTED = 0x1
"""The flag bit of an encrypted zip member."""

_NPY_HEADER_READERS = {
    (1, 0): numpy.lib.format.read_array_header_1_0,
    (2, 0): numpy.lib.format.read_array_header_2_0,
}
"""The ``.npy`` format versions the fast path reads, with numpy's reader of each one's header."""


def _stored_array(buffer: memoryview, member: zipfile.ZipInfo) -> numpy.ndarray | None:
    """A view of an uncompressed ``.npy`` member's array inside ``buffer``, or ``None`` to decode it normally.

    ``None`` sends anything unusual to the general path, which decodes it or says what is wrong: a
    compressed or encrypted member, a local header that is not where the directory says, a member that is
    not ``.npy`` version 1.0 or 2.0, an object dtype, or sizes that do not add up.
    """
    if member.compress_type != zipfile.ZIP_STORED or member.flag_bits & _ENCRYPTED:
        return None
    try:
        signature, name_length, extra_length = _LOCAL_HEADER.unpack_from(buffer, member.header_offset)
        start = member.header_offset + _LOCAL_HEADER.size + name_length + extra_length
        header = io.BytesIO(buffer[start : start + min(member.file_size, 65_536)])
        read_header = _NPY_HEADER_READERS[numpy.lib.format.read_magic(header)]
        shape, fortran_order, dtype = read_header(header)
    except (struct.error, ValueError, KeyError):
        return None
    offset, count = start + header.tell(), math.prod(shape)
    if (
        signature != b"PK\x03\x04"
        or dtype.hasobject
        or offset + count * dtype.itemsize != start + member.file_size
    ):
        return None
    array = numpy.frombuffer(buffer, dtype=dtype, count=count, offset=offset)
    if buffer.readonly or offset % dtype.alignment:
        array = array.copy()
    return array.reshape(shape, order="F" if fortran_order else "C")


def _check_shard_arrays(
    arrays: Mapping[str, numpy.ndarray], features: tuple[TensorSpecification, ...], source: str
) -> int:
    expected = {feature.name for feature in features}
    if set(arrays) != expected:
        raise ContractError(
            f"a shard must hold exactly the features {sorted(expected)}, found {sorted(arrays)}",
            source=source,
        )
    rows_by_feature = {
        feature.name: len(arrays[feature.name]) if numpy.ndim(arrays[feature.name]) else 0
        for feature in features
    }
    rows = set(rows_by_feature.values())
    if len(rows) != 1 or 0 in rows:
        raise ContractError(
            f"every feature of a shard must have the same, non-zero number of rows, found {rows_by_feature}",
            source=source,
        )
    for feature in features:
        try:
            feature.check_array(arrays[feature.name], leading=(-1,))
        except ContractError as error:
            raise ContractError(error.reason, source=source, field=error.field) from None
    return rows.pop()
