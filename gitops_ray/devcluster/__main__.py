"""`python -m gitops_ray.devcluster build|up|down|kubeconfig|status` (what scripts/dev-cluster runs)."""

import sys

from gitops_ray.devcluster.cli import main

sys.exit(main())
