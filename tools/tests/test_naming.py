import pytest

from zoo.naming import (
    Renamer,
    RenameRule,
    case_variants,
    module_name,
    package_name_problem,
    protected_names,
    split_words,
)


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("digits-classifier-torch", ["digits", "classifier", "torch"]),
        ("digits_classifier_torch", ["digits", "classifier", "torch"]),
        ("DIGITS_CLASSIFIER", ["digits", "classifier"]),
        ("DigitsClassifier", ["digits", "classifier"]),
        ("digitsClassifier", ["digits", "classifier"]),
        ("Digits Classifier", ["digits", "classifier"]),
        ("ONNXPredictor", ["onnx", "predictor"]),
        ("resnet50-torch", ["resnet50", "torch"]),
    ],
)
def test_split_words_reads_every_case_variant(name, words):
    assert split_words(name) == words


def test_case_variants_writes_every_kind():
    assert case_variants(["letters", "classifier"]) == {
        "snake": "letters_classifier",
        "kebab": "letters-classifier",
        "upper": "LETTERS_CLASSIFIER",
        "camel": "LettersClassifier",
        "lower_camel": "lettersClassifier",
        "title": "Letters Classifier",
        "words": "letters classifier",
    }


def test_module_name_uses_underscores():
    assert module_name("digits-classifier-torch") == "digits_classifier_torch"


def test_package_name_problem_accepts_lowercase_words_with_hyphens():
    assert package_name_problem("letters-classifier-torch") is None
    assert package_name_problem("resnet50") is None


@pytest.mark.parametrize(
    "name", ["Letters", "letters_classifier", "2letters", "letters-", "letters--torch", ""]
)
def test_package_name_problem_explains_invalid_names(name):
    problem = package_name_problem(name)
    assert problem is not None
    assert "lowercase words" in problem


def test_package_name_problem_refuses_a_keyword_module():
    assert "Python keyword" in package_name_problem("class")


def test_rename_rule_parse_reads_old_and_new():
    rule = RenameRule.parse(" Digits -> Letters ")
    assert (rule.old, rule.new) == ("Digits", "Letters")
    assert str(rule) == "Digits->Letters"


@pytest.mark.parametrize("text", ["Digits", "Digits->", "->Letters", "-- -> Letters"])
def test_rename_rule_parse_refuses_incomplete_rules(text):
    with pytest.raises(ValueError, match="is not a rename rule: write Old->New"):
        RenameRule.parse(text)


def test_renamer_renames_every_case_variant():
    renamer = Renamer([RenameRule("digits-classifier", "letters-recogniser")])
    text = (
        "import digits_classifier\n"
        "class DigitsClassifierNetwork: pass\n"
        "DIGITS_CLASSIFIER_SEED = 1\n"
        "digitsClassifier = 'digits-classifier'\n"
        "# Digits Classifier: the digits classifier\n"
    )
    assert renamer.apply(text) == (
        "import letters_recogniser\n"
        "class LettersRecogniserNetwork: pass\n"
        "LETTERS_RECOGNISER_SEED = 1\n"
        "lettersRecogniser = 'letters-recogniser'\n"
        "# Letters Recogniser: the letters recogniser\n"
    )


def test_renamer_changes_whole_words_only():
    renamer = Renamer([RenameRule("torch", "jax")])
    text = "import torch, torchvision; pytorch_version; TorchNetwork; ONNXTorch; XTORCH; TORCH_SEED; Torchy"
    assert renamer.apply(text) == (
        "import jax, torchvision; pytorch_version; JaxNetwork; ONNXJax; XTORCH; JAX_SEED; Torchy"
    )


def test_renamer_never_renames_a_result_again():
    renamer = Renamer([RenameRule("alpha", "beta"), RenameRule("beta", "gamma")])
    assert renamer.apply("alpha beta Alpha") == "beta gamma Beta"


def test_renamer_leaves_protected_names_alone():
    renamer = Renamer(
        [RenameRule("digits-classifier", "letters-classifier")],
        protected=["digits-classifier-large", "digits_classifier_large"],
    )
    text = "digits-classifier and digits-classifier-large, digits_classifier_large.model"
    assert (
        renamer.apply(text) == "letters-classifier and digits-classifier-large, digits_classifier_large.model"
    )


def test_renamer_chooses_the_form_of_code_for_a_single_word_and_kebab_beside_hyphens():
    renamer = Renamer([RenameRule("digits", "handwritten-letters")])
    assert renamer.apply("number_of_digits = 1; Digits; DIGITS; digits-model") == (
        "number_of_handwritten_letters = 1; HandwrittenLetters; HANDWRITTEN_LETTERS; handwritten-letters-model"
    )


def test_renamer_without_rules_returns_the_text():
    renamer = Renamer([])
    assert renamer.apply("anything") == "anything"
    assert not renamer.changes("anything")


def test_renamer_changes_says_whether_the_text_changes():
    renamer = Renamer([RenameRule("alpha", "beta")])
    assert renamer.changes("an alpha model")
    assert not renamer.changes("an alphabet")


def test_protected_names_are_other_packages_containing_the_old_name():
    rules = [RenameRule("alpha-model", "gamma-model")]
    names = ["alpha-model", "alpha-model-large", "beta-model", "alpha-model-small", "gamma-model-small"]
    protected = protected_names(rules, names)
    assert "alpha-model-large" in protected
    assert "alpha_model_large" in protected
    assert "AlphaModelLarge" in protected
    assert "alpha-model" not in protected  # the name being renamed
    assert "alpha-model-small" not in protected  # renamed into an existing package: the same family
    assert not any("beta" in name for name in protected)
