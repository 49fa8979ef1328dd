"""learnsim: learn neural simulators of physical systems from recorded trajectories, locally.

Public API (everything else is internal)::

    import learnsim as ls
    ls.Input, ls.Output, ls.MLPConfig, ls.train_model, ls.load_model, ls.simulate, ...

The names are listed once, in ``__init__.pyi``, and loaded on first use (scientific-python SPEC 1), so
``import learnsim`` and the command line start without importing torch.
"""

import lazy_loader

_load, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
__all__ = [*__all__, "__version__"]


def __getattr__(name: str):
    if name == "__version__":  # read on demand: importlib.metadata alone costs a CLI start 30 ms
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("learnsim")
        except PackageNotFoundError:  # a source tree that was never installed
            return "unknown"
    return _load(name)
