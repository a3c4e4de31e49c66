"""Recipes: one YAML file describes a whole dataset build."""

from .load import LoadedRecipe, Problem, RecipeError, load_recipe
from .model import Recipe, Stage, recipe_schema

__all__ = ["LoadedRecipe", "Problem", "Recipe", "RecipeError", "Stage", "load_recipe", "recipe_schema"]
