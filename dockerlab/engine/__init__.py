"""The only package that imports `docker`: connect and detect, sessions and cleanup, build, containers,
images, registry, swarm and the sandbox; `translate` turns SDK failures into the kit's errors."""
