"""The evaluation settings' defaults, defined once: the experiments' signatures, the command
line's flags (`arst VERB --help` shows them) and the workflow (arst.plan fills in what a
config's `evaluation:` leaves out) all read them here. Plain values, so reading them
imports nothing heavy."""

SIZE = 128  # short side of the evaluation crops
SWEEP_POINTS = 11
SWEEP_OTHERS = (0.0, 1.0)  # the values the other layers' alphas are held at
NOISE = {"dots": 9, "sigma": 1.5, "spots": 5, "radius": 6.0, "alpha": 1.0, "alpha_delta": 0.2, "seed": 0}
DIVERSITY = {"samples": 6, "seed": 0}
# warmup: steps before the saddle detector looks, 3 time constants of the EMA (rate 0.01)
SADDLE = {"window": 20, "content_drop": 0.3, "style_rise": 0.1, "warmup": 300}
# A saddle event must also move both window medians by this many standard errors of what batch
# noise alone moves them: for Gaussian noise a window pair passes one test by chance with
# probability 0.13% (one-sided), and an event needs content and style to pass at once.
SADDLE_NOISE_K = 3.0

# The same, laid out as the config's `evaluation:` section.
EVALUATION = {"size": SIZE, "sweep_points": SWEEP_POINTS, "sweep_others": list(SWEEP_OTHERS),
              "noise": NOISE, "diversity": DIVERSITY, "saddle": SADDLE}
