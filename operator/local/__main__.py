"""``python -m kubefactory.operator.local``: what ``kubefactory run`` hands over to."""

from __future__ import annotations

from .command import main

raise SystemExit(main())
