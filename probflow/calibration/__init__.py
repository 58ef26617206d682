"""Calibrated schedules: the most accurate sigma grid and solver form for a given denoiser and budget.

``schedule = calibrate(denoiser, noise, nfe=10)``; ``probflow.sample(denoiser, z, nfe=10, schedule=schedule)``;
``schedule.save(path)`` / ``Schedule.load(path)``. See :mod:`.calibrate` for the procedure, :mod:`.search` for
the objective and the search, and :mod:`.noise_levels` for the noise levels the denoiser is told.
"""

from probflow.calibration.calibrate import DEFAULT_MAX_CALLS, calibrate, default_candidates
from probflow.calibration.fingerprint import ScheduleMismatchWarning, fingerprint, same_model, warn_if_other_model
from probflow.calibration.noise_levels import ShiftedNoiseLevels
from probflow.calibration.schedule import Schedule
from probflow.calibration.search import family_sigmas, point_parameters, point_sigmas
from probflow.calibration.teacher import Teacher, per_sample_rms, teach

__all__ = [
    "DEFAULT_MAX_CALLS", "Schedule", "ScheduleMismatchWarning", "ShiftedNoiseLevels", "Teacher", "calibrate", "default_candidates",
    "family_sigmas", "fingerprint", "per_sample_rms", "point_parameters", "point_sigmas", "same_model", "teach",
    "warn_if_other_model",
]
