"""`docker save` / OCI byte streams -> layer entries, every layout and compression; never the engine."""
