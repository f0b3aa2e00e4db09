"""The report reads and writes run directories and reports through ``facebench.storage`` (local paths or any
URI pyarrow has a filesystem for: ``s3://``, ``gs://``, NFS), the same module the sweep uploads through."""

from facebench.storage import Location, resolve

__all__ = ["Location", "resolve"]
