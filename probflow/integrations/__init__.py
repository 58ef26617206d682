"""probflow inside other libraries' sampling code.

* :mod:`probflow.integrations.diffusers`: :class:`~probflow.integrations.diffusers.ProbflowScheduler`, probflow's
  solvers as a diffusers scheduler (needs the ``diffusers`` extra);
* :mod:`probflow.integrations.k_diffusion`: probflow's solvers as k-diffusion samplers
  (:func:`~probflow.integrations.k_diffusion.sampler`) and k-diffusion denoisers as probflow denoisers
  (:func:`~probflow.integrations.k_diffusion.denoiser_from_k_diffusion`); k-diffusion need not be installed.

Each is imported on its own (``from probflow.integrations.diffusers import ProbflowScheduler``), so that importing
one never imports the other library.
"""
