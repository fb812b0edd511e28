# SPDX-License-Identifier: MIT
"""Atrium's host mode, client side: the `atrium-host` kernel provisioner (docs/host.md)."""

from .control import HostError, HostRefused, HostUnreachable
from .provisioner import AtriumHostProvisioner

__all__ = ["AtriumHostProvisioner", "HostError", "HostRefused", "HostUnreachable"]
