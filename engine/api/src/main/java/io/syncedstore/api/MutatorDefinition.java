package io.syncedstore.api;

/**
 * A named mutator and its input type.
 *
 * @param name the name clients push
 * @param inputType the type the input is validated against and mapped to
 * @param mutator the code
 * @param <I> the input type
 */
public record MutatorDefinition<I>(String name, Class<I> inputType, Mutator<I> mutator) {}
