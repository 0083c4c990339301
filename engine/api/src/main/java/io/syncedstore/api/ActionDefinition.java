package io.syncedstore.api;

/**
 * An action of an app, as {@link AppDefinition.Builder#action} declares it.
 *
 * @param name the action's name
 * @param inputType its input type (a record, or {@code JsonNode})
 * @param outputType its output type (a record, {@code JsonNode}, a boxed primitive, {@code String} or {@code Void})
 * @param action the code
 * @param <I> the input type
 * @param <O> the output type
 */
public record ActionDefinition<I, O>(String name, Class<I> inputType, Class<O> outputType, Action<I, O> action) {}
