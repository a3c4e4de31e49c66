"""Recipes: one YAML file describes a whole dataset build (and the training on it)."""

from .load import LoadedRecipe, Problem, RecipeError, load_recipe
from .model import Recipe, Stage, recipe_schema
from .train_after import RunAndTrain, run_then_train, train_file, train_recipe

__all__ = ["LoadedRecipe", "Problem", "Recipe", "RecipeError", "RunAndTrain", "Stage", "load_recipe",
           "recipe_schema", "run_then_train", "train_file", "train_recipe"]
