"""Which models a config trains, and the arguments of the verbs that train and evaluate them
(arst.plan)."""

import copy
import shlex

import pytest

from arst.errors import ConfigError
from arst.experiments.diversity import DIVERSITY
from arst.experiments.noise import NOISE
from arst.experiments.saddle import SADDLE
from arst.experiments.sweep import SWEEP_POINTS
from arst.experiments import registry
from arst.plan import (batch_size, check_alpha_names, check_eval_not_trained, check_named_files, evaluation_argv,
                       evaluation_job_argv, experiment_argv, floor_runs, image_argv, image_size, loss_weights_file,
                       model_recipe, read_config_file, recipe_of, saddle_models, schedule_of, snapshot_files,
                       train_argv, write_recipe_file, trained_models, control_sources, controls, floor_seed)

CONFIG = {
    "implementations": {
        "baseline": {"recipe": "baseline", "runtime": {"precision": "fp32"}},
        "corrected": {"recipe": "corrected", "set": {"style_size": 64}},
        "paper_literal": {"recipe": "corrected", "set": {"conditioner_init": "normal", "conditioner_lr": None}},
    },
    "evaluation": {"saddle": {"ablation": True, "ablation_content_layer": "relu4_2"},
                   "retrain": {"impls": ["corrected"], "alphas": [{"relu3_4": 1.0}, {}]},
                   "combinations": [{"relu2_2": 1.0}, {"relu5_4": 1.0}]},
    "train": {"steps": 12, "epochs": None, "batch": 2, "size": None, "checkpoint_every": 4, "log_every": 2,
              "diagnostics_every": 4},
    "runtime": {"device": "auto", "precision": "auto", "compile": "auto", "channels_last": False,
                "channel_multiple": "auto", "workers": 0},
    "loss_network": {"weights": "random", "seed": 0},
}


def _argv(spec, config=CONFIG):
    argv = train_argv(spec, config)
    return dict(zip(argv[::2], argv[1::2])), argv


def test_every_model_and_its_name():
    models = trained_models(CONFIG)
    controls = [f"corrected-fixed-{layer}" for layer in ("relu2_2", "relu3_4", "relu4_4")]
    assert list(models) == ["baseline", "corrected", "paper_literal", "baseline-ablation", "corrected-ablation",
                            "paper_literal-ablation", *controls, "corrected-fixed-ones", "corrected-fixed0",
                            "corrected-fixed1"]
    # Models are named by their config key; the derived ones by the implementation they vary.
    assert [m["name"] for m in models.values()] == ["baseline", "corrected", "paper_literal", "baseline",
                                                    "corrected", "paper_literal"] + ["corrected"] * 6
    assert models["corrected-ablation"]["set"] == {"style_size": 64, "content_layer": "relu4_2"}
    # The controls: every one-hot, all ones, then the config's own vectors.
    assert [models[k]["set"]["alpha_fixed"] for k in controls] == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    assert models["corrected-fixed-ones"]["set"]["alpha_fixed"] == [1.0, 1.0, 1.0]
    assert models["corrected-fixed0"]["set"]["alpha_fixed"] == [0.0, 1.0, 0.0]  # relu2_2, relu3_4, relu4_4
    assert models["corrected-fixed1"]["set"]["alpha_fixed"] == [0.0, 0.0, 0.0]
    assert recipe_of("paper_literal", models["paper_literal"]).name == "paper_literal"


def test_controls_default_to_every_adjustable_implementation_and_the_floor_is_a_second_seed():
    config = {**CONFIG, "evaluation": {**CONFIG["evaluation"], "retrain": {"impls": None}}}
    assert list(controls(config)) == ["baseline", "corrected", "paper_literal"]
    assert list(controls(config)["baseline"])[-1] == "baseline-fixed-ones"
    assert len(controls(config)["baseline"]) == 5  # four style layers and all ones
    assert floor_seed(config, "3") == 4
    assert floor_seed({**config, "evaluation": {"retrain": {"floor_seed_offset": 10}}}, 1) == 11


def test_the_floor_trains_beyond_the_runs_and_the_saddle_reads_each_run_and_its_ablation():
    config = {**copy.deepcopy(CONFIG), "styles": {"mosaic": {}, "swirl": {}}, "seeds": [0, 1]}
    # The first one-hot of each controlled implementation at seed + 1: seed 1 is a run's own.
    assert floor_runs(config) == [("corrected-fixed-relu2_2", "mosaic", "2"), ("corrected-fixed-relu2_2", "swirl", "2")]
    config["evaluation"]["retrain"]["floor_seed_offset"] = 5
    assert [seed for _, _, seed in floor_runs(config)] == ["5", "6", "5", "6"]
    runs = saddle_models(config)
    assert len(runs) == 2 * 3 * 2 * 2  # (adjustable, ablation) x implementations x styles x seeds
    assert runs[:2] == [("adjustable", "baseline", "mosaic", "0"), ("adjustable", "baseline", "mosaic", "1")]
    assert runs[12] == ("ablation", "baseline-ablation", "mosaic", "0")
    config["evaluation"]["saddle"]["ablation"] = False
    assert {variant for variant, *_ in saddle_models(config)} == {"adjustable"}


def _train_args(argv):
    """What `arst train` reads from `argv` (its own parser, so flag names and types are checked)."""
    from arst.cli import build_parser
    return build_parser("train").parse_args(["train", "--content", "c", "--style", "s", "--out", "o", *argv])


def test_train_arguments_carry_the_schedule_and_no_recipe():
    from arst.cli.train import schedule_from
    spec = trained_models(CONFIG)["paper_literal"]
    flags, argv = _argv(spec)
    assert not {"--recipe", "--set", "--name", "--batch", "--size"} & set(flags)  # the recipe file has them
    assert flags["--steps"] == "12" and flags["--checkpoint-every"] == "4" and flags["--workers"] == "0"
    # The schedule the plan decides is the one `arst train` reads back from the flags.
    assert schedule_from(_train_args(argv)) == schedule_of(spec, CONFIG)
    assert schedule_of(spec, CONFIG).diagnostics_every == 4
    assert shlex.split(shlex.join(argv)) == argv


def test_a_models_recipe_file_is_its_whole_recipe(tmp_path):
    spec = trained_models(CONFIG)["paper_literal"]
    recipe = model_recipe(spec, CONFIG)
    assert recipe.name == "paper_literal" and recipe.conditioner_init == "normal"
    assert (recipe.batch_size, recipe.image_size) == (2, 256)  # the config's batch; size null: the recipe's
    write_recipe_file(recipe.to_dict(), tmp_path / "recipe.yaml", tmp_path / "recipe.log")
    args = _train_args(["--recipe", str(tmp_path / "recipe.yaml"), "--steps", "1"])
    from arst.recipe import load_recipe
    assert load_recipe(args.recipe) == recipe  # conditioner_lr comes back as null, not 'None'
    assert load_recipe(args.recipe).conditioner_lr is None
    assert "the recipe of paper_literal" in (tmp_path / "recipe.log").read_text()
    assert model_recipe(trained_models(CONFIG)["corrected-ablation"], CONFIG).content_layer == "relu4_2"


def test_an_implementation_overrides_the_runtime_and_the_schedule():
    config = copy.deepcopy(CONFIG)
    config["implementations"]["baseline"]["train"] = {"epochs": 2}
    flags, _ = _argv(trained_models(config)["baseline"], config)
    assert flags["--precision"] == "fp32" and flags["--epochs"] == "2" and "--steps" not in flags
    assert _argv(trained_models(CONFIG)["corrected"])[0]["--precision"] == "auto"


def test_a_bad_override_or_ablation_names_the_config_key():
    config = copy.deepcopy(CONFIG)
    config["implementations"]["corrected"]["set"] = {"cin_position": "sideways"}
    with pytest.raises(ConfigError, match=r"config implementations.corrected: .*cin_position"):
        trained_models(config)
    config = copy.deepcopy(CONFIG)
    config["evaluation"]["saddle"]["ablation"] = False
    assert not any(name.endswith("-ablation") for name in trained_models(config))
    config = copy.deepcopy(CONFIG)
    config["implementations"]["baseline"]["set"] = {"cin_eps": "oops"}  # trained, never retrained
    with pytest.raises(ConfigError, match=r"config implementations.baseline: .*cin_eps"):
        trained_models(config)


def test_the_loss_weights_file_is_torchvisions_for_the_recipes_network():
    config = copy.deepcopy(CONFIG)
    models = trained_models(config)
    assert loss_weights_file(models["corrected"], config, "resources/torch") is None  # random weights
    config["loss_network"]["weights"] = "imagenet"
    vgg16 = {**models["corrected"], "set": {"vgg": "vgg16", "style_layers": ["relu2_2", "relu3_3", "relu4_3"],
                                             "content_layer": "relu3_3"}}
    assert loss_weights_file(models["corrected"], config, "res") == "res/hub/checkpoints/vgg19-dcbb9e9d.pth"
    assert loss_weights_file(vgg16, config, "res") == "res/hub/checkpoints/vgg16-397923af.pth"


def _parsed(verb, argv):
    """What `arst VERB` reads from `argv` (its own parser, so flag names and types are checked)."""
    from arst.cli import build_parser
    return build_parser(verb).parse_args([verb, *argv, "--table", "t.csv"])


def test_evaluation_arguments_are_the_verbs_own_and_carry_the_implementations_runtime():
    config = {**copy.deepcopy(CONFIG), "evaluation": {"size": 48, "noise": {"dots": 3}}}
    common = dict(style="s.png", style_name="mosaic", images=["a.png", "b.png"], threads=2)
    args = _parsed("noise", evaluation_argv(config, "baseline", model="m.pt", **common)
                   + experiment_argv(config, "noise"))
    assert (args.checkpoint, args.style, args.style_name, args.images) == ("m.pt", "s.png", "mosaic", ["a.png", "b.png"])
    assert (args.size, args.threads, args.precision, args.channels_last) == (48, 2, "fp32", "false")
    # The config's value where it has one, arst's default where it is silent.
    assert (args.dots, args.sigma, args.radius) == (3, NOISE["sigma"], NOISE["radius"])
    corrected = _parsed("sweep", evaluation_argv(config, "corrected", model="m.pt", **common)
                        + experiment_argv(config, "sweep"))
    assert corrected.precision == "auto" and (corrected.points, corrected.others) == (SWEEP_POINTS, [0.0, 1.0])
    retrain = evaluation_argv(config, "corrected", model=None, **common)
    assert "--checkpoint" not in retrain and experiment_argv(config, "retrain-compare") == []


def test_an_evaluation_jobs_arguments_name_its_inputs_and_outputs_as_its_verb_reads_them():
    from arst.cli import build_parser
    config = {**copy.deepcopy(CONFIG), "evaluation": {"size": 48}}
    experiments = registry.experiments()
    shared = dict(model="m.pt", style="s.png", images=["a.png", "b.png"])
    # A model under --checkpoint, an extra input as its flag, every output (images: --image-dir).
    adjustability = experiments["adjustability"]
    argv = evaluation_job_argv(config, adjustability, "baseline", "mosaic", {**shared, "training_log": "log.csv"},
                               {"table": "t.csv", "curve": "c.csv"}, threads=3)
    args = build_parser("adjustability").parse_args(["adjustability", *argv])
    assert (args.checkpoint, args.style, args.style_name, args.images) == ("m.pt", "s.png", "mosaic", ["a.png", "b.png"])
    assert (args.training_log, args.table, args.curve, args.threads, args.size) == ("log.csv", "t.csv", "c.csv", 3, 48)
    noise = evaluation_job_argv(config, experiments["noise"], "baseline", "mosaic", shared,
                                {"table": "t.csv", "images": "img"}, threads=1)
    assert shlex.join(noise).endswith("--table t.csv --image-dir img")
    # A model under the experiment's own flag, and a list of inputs after one flag.
    control_argv = evaluation_job_argv(config, experiments["controls"], "corrected", "mosaic",
                                    {**shared, "retrained": ["r1.pt", "r2.pt"], "floor": "f.pt"}, {"table": "t.csv"},
                                    threads=1)
    args = build_parser("controls").parse_args(["controls", *control_argv])
    assert "--checkpoint" not in control_argv
    assert (args.adjustable, args.retrained, args.floor) == ("m.pt", ["r1.pt", "r2.pt"], "f.pt")


def test_snapshots_are_every_models_and_the_controls_are_judged_at_each():
    from arst.cli import build_parser
    config = copy.deepcopy(CONFIG)
    config["train"]["snapshots"] = [8, 4]
    models = trained_models(config)
    assert {schedule_of(spec, config).snapshots for spec in models.values()} == {(4, 8)}
    assert _argv(models["corrected-fixed-ones"], config)[0]["--snapshots"] == "4,8"
    assert snapshot_files("results/models/{model}/{style}/seed{seed}/model.pt", config) == [
        "results/models/{model}/{style}/seed{seed}/model-step4.pt",
        "results/models/{model}/{style}/seed{seed}/model-step8.pt"]
    shared = dict(model="m.pt", style="s.png", images=["a.png"], retrained=["r1.pt", "r2.pt"], floor="f.pt")
    controls_job = registry.experiments()["controls"]

    def budgets(config):
        argv = evaluation_job_argv(config, controls_job, "corrected", "mosaic", shared, {"table": "t.csv"}, threads=1)
        return build_parser("controls").parse_args(["controls", *argv]).budgets

    assert budgets(config) == (4, 8) and budgets(CONFIG) == ()  # none: the final models only
    noise = evaluation_job_argv(config, registry.experiments()["noise"], "corrected", "mosaic", shared,
                                {"table": "t.csv"}, threads=1)
    assert "--budgets" not in noise  # an experiment that does not judge budgets is not given them
    # A snapshot past an implementation's own steps stops the run when the models are listed.
    config["implementations"]["baseline"]["train"] = {"steps": 6}
    with pytest.raises(ConfigError, match=r"^config train \(or implementations.baseline.train\): schedule: "
                                          r"snapshots = 8: must be below steps = 6"):
        trained_models(config)


def test_the_commands_that_make_images_are_arsts_own():
    from arst.cli import build_parser
    config = {"styles": {"mosaic": {"procedural": "mosaic", "seed": 3, "size": 64}},
              "eval_content": {"chelsea": {"embedded": "chelsea"}}}
    style = image_argv(config, "styles", "mosaic")
    assert shlex.join(style) == "arst make-style mosaic --seed 3 --size 64 --out"
    args = build_parser("make-style").parse_args([*style[1:], "s.png"])
    assert (args.seed, args.size, args.out) == (3, 64, "s.png")
    photo = image_argv(config, "eval_content", "chelsea")
    assert build_parser("sample-photos").parse_args([*photo[1:], "c.png"]).out_file == "c.png"


def test_experiment_settings_round_trip_through_their_verbs():
    config = {**copy.deepcopy(CONFIG), "evaluation": {
        "combinations": [{"relu2_2": 1.0}, {"relu4_4": 0.5}],
        "diversity": {"samples": 3, "gram_layers": ["relu2_2", "relu3_4"]},
        "saddle": {"window": 5, "warmup": 30, "ablation": False}}}
    combos = _parsed("combinations", ["--checkpoint", "m", "--style", "s", "--images", "i"]
                     + experiment_argv(config, "combinations"))
    assert combos.alphas == config["evaluation"]["combinations"]
    diversity = _parsed("diversity", ["--checkpoint", "m", "--style", "s", "--images", "i"]
                        + experiment_argv(config, "diversity"))
    assert (diversity.samples, diversity.seed, diversity.gram_layers) == (3, DIVERSITY["seed"], ["relu2_2", "relu3_4"])
    saddle = experiment_argv(config, "saddle")  # the detector's settings, not the ablation's
    assert saddle == ["--window", "5", "--warmup", "30", "--content-drop", str(SADDLE["content_drop"]),
                      "--style-rise", str(SADDLE["style_rise"])]


def test_image_size_and_batch_are_the_implementations_then_the_configs_then_the_recipes():
    config = copy.deepcopy(CONFIG)  # train: batch 2, size null
    config["implementations"]["baseline"]["train"] = {"size": 64, "batch": 3}
    config["implementations"]["corrected"]["set"] = {"image_size": 96}
    models = trained_models(config)
    assert [image_size(models[m], config) for m in ("baseline", "corrected", "paper_literal")] == [64, 96, 256]
    assert [batch_size(models[m], config) for m in ("baseline", "corrected", "paper_literal")] == [3, 2, 2]
    fixed = model_recipe(models["corrected-fixed0"], config)  # varies corrected: trains as it does
    assert (fixed.image_size, fixed.batch_size) == (96, 2)
    config["train"]["batch"] = None
    assert batch_size(models["paper_literal"], config) == 8  # the corrected recipe's


def _sources(**content):
    return {"styles": {"mosaic": {"procedural": "mosaic"}}, "eval_content": {"astronaut": {"embedded": "astronaut"}},
            "content": {"source": "embedded", "folder": None, "coco_existing": None, **content},
            "loss_network": {"weights": "random"}}


def test_every_file_the_config_names_is_checked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative paths are read from the working directory
    (tmp_path / "style.jpg").write_bytes(b"x")
    (tmp_path / "photos").mkdir()
    config = _sources(source="folder", folder="photos")
    config["styles"]["own"] = {"file": "style.jpg"}
    check_named_files(config)  # all there
    config = _sources(source="coco", folder="nope", coco_existing="coco/train2014")
    config["styles"]["own"] = {"file": "gone.jpg"}
    config["eval_content"]["cat"] = {"file": "/no/cat.png"}
    config["loss_network"]["weights"] = "weights.pth"
    with pytest.raises(ConfigError) as err:
        check_named_files(config)
    assert str(err.value).splitlines() == [
        "config styles.own.file: image not found: gone.jpg",
        "config eval_content.cat.file: image not found: /no/cat.png",
        "config content.folder: folder not found: nope",
        "config content.coco_existing: folder not found: coco/train2014",
        "config loss_network.weights: not random, imagenet or an existing file: weights.pth",
    ]
    with pytest.raises(ConfigError, match="content.source is folder, but no folder is given"):
        check_named_files(_sources(source="folder"))


def test_a_broken_config_file_is_named_with_its_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  steps: 3\n   typo: 1\n")
    with pytest.raises(ConfigError, match=f"config file {path} is not valid YAML, line 3, column 8: "):
        read_config_file(path)
    with pytest.raises(ConfigError, match=f"config file not found: {tmp_path / 'none.yaml'}"):
        read_config_file(tmp_path / "none.yaml")
    path.write_text("- a list\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        read_config_file(path)
    path.write_text("train: {steps: 3}\n")
    assert read_config_file(path) == {"train": {"steps": 3}}


def test_an_unknown_layer_or_implementation_is_refused_in_one_line():
    check_alpha_names(CONFIG)  # relu5_4 is the baseline's alone: accepted, the others ignore it
    config = copy.deepcopy(CONFIG)
    config["evaluation"]["combinations"].append({"relu2_2": 0.5, "relu4_3": 1.0})  # VGG-16's name
    config["evaluation"]["retrain"]["alphas"].append({"relu3_5": 1.0})
    config["evaluation"]["retrain"]["impls"].append("missing")
    with pytest.raises(ConfigError) as err:
        check_alpha_names(config)
    layers = "relu2_2, relu3_4, relu4_4, relu5_4"
    assert str(err.value).splitlines() == [
        f"config evaluation.combinations[2]: no implementation has the layer relu4_3 (layers: {layers})",
        f"config evaluation.retrain.alphas[2]: no implementation has the layer relu3_5 (layers: {layers})",
        "config evaluation.retrain.impls: missing is not in implementations (baseline, corrected, paper_literal); "
        "name the ones to retrain at fixed alpha, null for all, or [] for none",
    ]
    # A layer that one implementation's own recipe adds is known (VGG-16's names on VGG-19).
    config["implementations"]["corrected"]["set"] = {"style_layers": ["relu2_2", "relu3_3", "relu4_3"]}
    config["evaluation"]["retrain"]["alphas"].pop()
    config["evaluation"]["retrain"]["impls"].pop()
    check_alpha_names(config)


def test_an_evaluation_photo_is_never_a_training_photo(tmp_path):
    check_eval_not_trained(_sources(photos=["coffee", "rocket"]))
    config = _sources(photos=["astronaut", "coffee"])
    config["eval_content"]["cat"] = {"embedded": "chelsea"}
    with pytest.raises(ConfigError, match=r"^config eval_content.astronaut: the embedded photo astronaut is also "
                                          r"a training photo \(content.photos\)[^\n]*$"):
        check_eval_not_trained(config)
    (tmp_path / "photos" / "sub").mkdir(parents=True)
    config = _sources(source="folder", folder=str(tmp_path / "photos"))
    config["eval_content"] = {"mine": {"file": str(tmp_path / "mine.png")}}
    check_eval_not_trained(config)  # beside the folder, not in it
    config["eval_content"]["leak"] = {"file": str(tmp_path / "photos" / "sub" / "x.png")}
    with pytest.raises(ConfigError, match=r"^config eval_content.leak: .*x.png is inside the content folder"):
        check_eval_not_trained(config)
    check_eval_not_trained(_sources(source="coco", photos=["astronaut"]))  # photos unused: coco trains


def test_the_shipped_configs_evaluate_on_photos_they_do_not_train_on():
    from pathlib import Path
    for path in sorted((Path(__file__).parents[1] / "config").glob("*.yaml")):
        config = read_config_file(path)
        content = {"source": "embedded", "photos": ["coffee", "rocket", "motorcycle_left"], "folder": None,
                   **config.get("content", {})}  # the schema's defaults
        check_eval_not_trained({"content": content, "eval_content": config.get("eval_content", {})})


def test_a_variant_borrows_the_controls_of_its_objective_and_a_missing_source_is_named():
    config = copy.deepcopy(CONFIG)
    config["implementations"]["paper_literal"]["controls"] = "corrected"
    assert control_sources(config) == {"corrected": "corrected", "paper_literal": "corrected"}
    # A borrowed control that trained otherwise is refused before anything trains, naming it.
    config["implementations"]["paper_literal"]["train"] = {"steps": 40}
    with pytest.raises(ConfigError, match=r"implementations.paper_literal.controls: corrected trains with steps "
                                          r"12, paper_literal with 40: a control must share steps"):
        control_sources(config)
    config["implementations"]["paper_literal"]["controls"] = "baseline"
    with pytest.raises(ConfigError, match=r"implementations.paper_literal.controls: baseline has no retrained "
                                          r"controls \(those with controls: corrected"):
        control_sources(config)
