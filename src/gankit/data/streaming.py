"""Where training images live: on the device as one tensor, or streamed batch by batch from the host.

Most data sets fit on the device, and a batch is then one index operation
there. A set larger than a share of the device's free memory (or any set
with ``data.stream=true``) stays on the host, normally as the decode cache's
memory map, and each batch is gathered there and copied over. The indices
come from the same sampler either way, and the uint8 rows and their
conversion are the same, so streaming and in-memory training give the same
weights bit for bit.

A background thread gathers the *next* batch while the current one trains.
It is told which rows to fetch by ``DeviceBatchSampler.peek_indices``, which
does not move the sampler, so the checkpointed sampler state is always what
training consumed; and a prefetched batch is used only if its indices are
exactly the ones asked for, so a wrong guess costs time, never correctness.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from gankit.data.dataset import Dataset
from gankit.data.domains import MultiDomainDataset

# Stream when the uint8 data would take more than this share of the device's free memory: the rest is
# left to the networks, activations and optimiser state (on CPU: to everything else on the machine).
STREAM_SHARE = 0.5


@dataclass
class MappedDataset(Dataset):
    """A dataset whose images are a map of a decode cache file; moving it to a device reads the file whole.

    Reading the file (rather than copying from the map) keeps a single copy in memory: pages touched through
    a map count towards the process's memory as long as the map lives.
    """

    mapped: np.memmap | None = field(default=None, repr=False, compare=False)

    def _still_mapped(self) -> bool:
        return self.mapped is not None and self.data.data_ptr() == self.mapped.ctypes.data

    def to(self, device: torch.device | str) -> Dataset:
        if not self._still_mapped():
            return super().to(device)
        count = int(np.prod(self.mapped.shape))
        pixels = np.fromfile(self.mapped.filename, dtype=np.uint8, count=count, offset=self.mapped.offset)
        data = torch.from_numpy(pixels.reshape(self.mapped.shape)).to(device)
        labels = None if self.labels is None else self.labels.to(device)
        return Dataset(self.name, self.description, self.kind, data, labels, self.num_classes)


@dataclass
class StreamingDataset(Dataset):
    """Host-resident data (``data`` on the CPU, often memory-mapped) whose batches are delivered on ``device``."""

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    _pending: tuple[Tensor, Future] | None = field(default=None, init=False, repr=False, compare=False)
    _pool: ThreadPoolExecutor | None = field(default=None, init=False, repr=False, compare=False)

    streams = True

    def to(self, device: torch.device | str) -> StreamingDataset:
        return dataclasses.replace(self, device=torch.device(device))

    def _gather(self, indices: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """Rows ``indices`` (CPU int64) read in ascending order (sequential reads of the map), on the host."""
        ascending, where = indices.sort()
        pin = self.device.type == "cuda"
        rows = torch.empty((len(indices), *self.data.shape[1:]), dtype=self.data.dtype, pin_memory=pin)
        torch.index_select(self.data, 0, ascending, out=rows)  # releases the GIL: overlaps the training step
        labels = None if self.labels is None else self.labels.index_select(0, ascending)
        return rows, where, labels

    def prefetch(self, indices: Tensor) -> None:
        """Start gathering the batch ``indices`` in the background; ``batch`` uses it if asked for exactly those."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gankit-stream")
        wanted = indices.cpu()
        self._pending = (wanted, self._pool.submit(self._gather, wanted))

    def batch(self, indices: Tensor) -> tuple[Tensor, Tensor | None]:
        wanted = indices.cpu()
        pending = self._pending
        if pending is not None and torch.equal(pending[0], wanted):
            self._pending = None
            rows, where, labels = pending[1].result()
        else:
            # Another reader (an evaluation's real samples, a preview): leave the training prefetch in place.
            rows, where, labels = self._gather(wanted)
        rows = rows.to(self.device, non_blocking=True)
        where = where.to(self.device, non_blocking=True)
        # Back from ascending order to the sampler's order, on the device.
        ordered = torch.empty_like(rows)
        ordered[where] = rows
        if self.kind == "images":
            ordered = ordered.float() / 127.5 - 1.0
        if labels is not None:
            labels = labels.to(self.device, non_blocking=True)
            in_order = torch.empty_like(labels)
            in_order[where] = labels
            labels = in_order
        return ordered, labels


def free_memory(device: torch.device) -> int | None:
    """Bytes free for data on ``device``: CUDA's free memory, or the host's available memory; None if unknown."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None  # not Linux: no cheap, dependency-free answer, so the data is kept in memory as before


def data_bytes(dataset: Dataset) -> int:
    return dataset.data.numel() * dataset.data.element_size()


def should_stream(dataset: Dataset, device: torch.device, stream: bool | None) -> bool:
    """``data.stream``: true or false forces; null streams when the data exceed ``STREAM_SHARE`` of free memory."""
    if stream is not None:
        return stream
    free = free_memory(device)
    return free is not None and data_bytes(dataset) > STREAM_SHARE * free


def streaming(dataset: Dataset, device: torch.device) -> StreamingDataset:
    """``dataset`` left on the host, batches delivered on ``device``."""
    host = dataset if dataset.data.device.type == "cpu" else dataset.to("cpu")
    labels = None if host.labels is None else host.labels.cpu()
    return StreamingDataset(host.name, host.description, host.kind, host.data, labels, host.num_classes,
                            device=torch.device(device))


def place_dataset(dataset, device: torch.device, stream: bool | None = None):
    """The training copy of ``dataset`` (or of each domain): on ``device``, or streamed to it."""
    if isinstance(dataset, MultiDomainDataset):
        return MultiDomainDataset(
            dataset.name, dataset.description, {k: place_dataset(d, device, stream) for k, d in dataset.domains.items()},
            {k: d.to(device) for k, d in dataset.test_domains.items()},
        )
    if should_stream(dataset, device, stream):
        return streaming(dataset, device)
    return dataset.to(device)


def streaming_note(dataset) -> str | None:
    """One log line saying which data are streamed, or None when everything is on the device."""
    domains = dataset.domains if isinstance(dataset, MultiDomainDataset) else {"data": dataset}
    streamed = {name: d for name, d in domains.items() if d.streams}
    if not streamed:
        return None
    size = sum(data_bytes(d) for d in streamed.values()) / 2**30
    return (f"data: streaming batches from host memory ({size:.2f} GiB, memory-mapped where cached) to "
            f"{next(iter(streamed.values())).device}, the next batch gathered in the background (data.stream)")
