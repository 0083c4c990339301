package io.syncedstore.gateway.auth;

import com.fasterxml.jackson.databind.JsonNode;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyType;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.source.ImmutableJWKSet;
import com.nimbusds.jose.proc.BadJOSEException;
import com.nimbusds.jose.proc.BadJWSException;
import com.nimbusds.jose.proc.DefaultJOSEObjectTypeVerifier;
import com.nimbusds.jose.proc.JWSKeySelector;
import com.nimbusds.jose.proc.JWSVerificationKeySelector;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jose.proc.SingleKeyJWSKeySelector;
import com.nimbusds.jose.util.X509CertUtils;
import com.nimbusds.jwt.JWT;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.JWTParser;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import com.nimbusds.jwt.proc.BadJWTException;
import com.nimbusds.jwt.proc.DefaultJWTProcessor;
import com.nimbusds.jwt.proc.JWTClaimsSetVerifier;
import com.typesafe.config.Config;
import io.syncedstore.api.ErrorCode;
import io.syncedstore.api.Json;
import io.syncedstore.api.SyncException;
import io.syncedstore.api.auth.Principal;
import io.syncedstore.api.auth.Scopes;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.X509EncodedKeySpec;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import javax.crypto.spec.SecretKeySpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Signed JWTs ({@code synced-store.auth.provider = jwt}, settings under {@code synced-store.auth.jwt}).
 *
 * <p>Exactly one signature algorithm is accepted, HS256, RS256 or ES256, as configured: a token
 * with any other {@code alg}, {@code none} included, is refused before its signature is looked at,
 * so neither unsigned tokens nor algorithm swaps (an HS256 token "signed" with the RSA public key)
 * get through. Parsing and signature checks are nimbus-jose-jwt's; the claims checks ({@code exp},
 * {@code nbf}, {@code iss}, {@code aud}, with a small clock skew) are made after the signature
 * verified, so that each refusal can say why. Refusals are {@link ErrorCode#UNAUTHORIZED} with a
 * reason and never the token.
 */
public final class JwtAuthProvider implements AuthProvider {
  private static final Logger log = LoggerFactory.getLogger(JwtAuthProvider.class);
  private static final String PREFIX = "synced-store.auth.jwt.";
  /** Longer tokens are refused unparsed. */
  static final int MAX_TOKEN_CHARS = 16 * 1024;
  private static final Pattern USER_ID = Pattern.compile("[A-Za-z0-9_.@:|-]{1,128}");
  private static final Pattern PRINTABLE_ALG = Pattern.compile("[A-Za-z0-9+_.-]{1,32}");
  private static final Set<JWSAlgorithm> SUPPORTED = Set.of(JWSAlgorithm.HS256, JWSAlgorithm.RS256, JWSAlgorithm.ES256);

  /**
   * The settings.
   *
   * @param algorithm the one accepted algorithm
   * @param issuer the required {@code iss}
   * @param audience the value {@code aud} must contain
   * @param clockSkew how far {@code exp} and {@code nbf} may be off
   * @param requireExp whether a token without {@code exp} is refused
   * @param userClaim the claim holding the user id
   * @param scopesClaim the claim holding the sync scopes, an object (optional in tokens)
   * @param permissionsClaim the claim holding permissions, an array of strings (optional in tokens)
   */
  record Settings(JWSAlgorithm algorithm, String issuer, String audience, Duration clockSkew, boolean requireExp,
      String userClaim, String scopesClaim, String permissionsClaim) {}

  private final Settings settings;
  private final Clock clock;
  private final DefaultJWTProcessor<SecurityContext> processor;

  /**
   * @param jwt the {@code synced-store.auth.jwt} section
   * @throws IllegalArgumentException when a setting is missing or not valid; the message names it
   */
  public JwtAuthProvider(Config jwt) {
    this(jwt, Clock.systemUTC());
  }

  JwtAuthProvider(Config jwt, Clock clock) {
    this.settings = settings(jwt);
    this.clock = clock;
    this.processor = new DefaultJWTProcessor<>();
    // typ is optional; when present it must say JWT (or an RFC 9068 access token)
    processor.setJWSTypeVerifier(new DefaultJOSEObjectTypeVerifier<>(JOSEObjectType.JWT, new JOSEObjectType("at+jwt"), null));
    processor.setJWSKeySelector(keySelector(jwt, settings.algorithm()));
    processor.setJWTClaimsSetVerifier(new ClaimsVerifier());
  }

  /** @return the settings of {@code jwt}, checked */
  private static Settings settings(Config jwt) {
    String algorithmName = required(jwt, "algorithm");
    JWSAlgorithm algorithm = JWSAlgorithm.parse(algorithmName.trim());
    if (!SUPPORTED.contains(algorithm)) {
      throw new IllegalArgumentException(PREFIX + "algorithm must be HS256, RS256 or ES256, not '" + algorithmName + "'");
    }
    Duration skew = jwt.hasPath("clock-skew") ? jwt.getDuration("clock-skew") : Duration.ofSeconds(30);
    if (skew.isNegative() || skew.compareTo(Duration.ofMinutes(10)) > 0) {
      throw new IllegalArgumentException(PREFIX + "clock-skew must be between 0 and 10 minutes");
    }
    return new Settings(algorithm, required(jwt, "issuer"), required(jwt, "audience"), skew,
        !jwt.hasPath("require-exp") || jwt.getBoolean("require-exp"),
        optional(jwt, "user-claim", "sub"), optional(jwt, "scopes-claim", "scopes"), optional(jwt, "permissions-claim", "permissions"));
  }

  private static String required(Config jwt, String key) {
    String value = jwt.hasPath(key) ? jwt.getString(key) : "";
    if (value.isBlank()) {
      throw new IllegalArgumentException(PREFIX + key + " is required when synced-store.auth.provider is jwt");
    }
    return value;
  }

  private static String optional(Config jwt, String key, String fallback) {
    String value = jwt.hasPath(key) ? jwt.getString(key) : fallback;
    if (value.isBlank()) {
      throw new IllegalArgumentException(PREFIX + key + " must not be empty");
    }
    return value;
  }

  /**
   * @return the selector of verification keys: the one configured key, or the keys of a JWKS file
   *     that fit the algorithm, chosen by the token's {@code kid}
   */
  private static JWSKeySelector<SecurityContext> keySelector(Config jwt, JWSAlgorithm algorithm) {
    boolean secret = present(jwt, "secret");
    boolean publicKey = present(jwt, "public-key");
    boolean jwksFile = present(jwt, "jwks-file");
    if (algorithm.equals(JWSAlgorithm.HS256)) {
      if (publicKey || jwksFile) {
        throw new IllegalArgumentException(PREFIX + (publicKey ? "public-key" : "jwks-file")
            + " is for RS256 and ES256; HS256 takes " + PREFIX + "secret");
      }
      if (!secret) {
        throw new IllegalArgumentException(PREFIX + "secret is required for HS256");
      }
      byte[] bytes = jwt.getString("secret").getBytes(StandardCharsets.UTF_8);
      if (bytes.length < 32) {
        throw new IllegalArgumentException(PREFIX + "secret must be at least 32 bytes (UTF-8) for HS256");
      }
      return new SingleKeyJWSKeySelector<>(algorithm, new SecretKeySpec(bytes, "HmacSHA256"));
    }
    if (secret) {
      throw new IllegalArgumentException(PREFIX + "secret is for HS256; " + algorithm + " takes "
          + PREFIX + "public-key or " + PREFIX + "jwks-file");
    }
    if (publicKey == jwksFile) {
      throw new IllegalArgumentException(publicKey
          ? "give either " + PREFIX + "public-key or " + PREFIX + "jwks-file, not both"
          : PREFIX + "public-key or " + PREFIX + "jwks-file is required for " + algorithm);
    }
    if (publicKey) {
      PublicKey key = parsePublicKey(jwt.getString("public-key"));
      checkKey(key, algorithm, PREFIX + "public-key");
      return new SingleKeyJWSKeySelector<>(algorithm, key);
    }
    return new JWSVerificationKeySelector<>(algorithm, new ImmutableJWKSet<>(loadJwks(jwt.getString("jwks-file"), algorithm)));
  }

  private static boolean present(Config jwt, String key) {
    return jwt.hasPath(key) && !jwt.getString(key).isBlank();
  }

  /** @return the public key of PEM text: a {@code PUBLIC KEY} (SubjectPublicKeyInfo) or a {@code CERTIFICATE} */
  static PublicKey parsePublicKey(String pem) {
    String setting = PREFIX + "public-key";
    String text = pem.trim();
    if (text.startsWith("-----BEGIN CERTIFICATE-----")) {
      X509Certificate certificate = X509CertUtils.parse(text);
      if (certificate == null) {
        throw new IllegalArgumentException(setting + " is not a valid PEM certificate");
      }
      return certificate.getPublicKey();
    }
    String begin = "-----BEGIN PUBLIC KEY-----";
    String end = "-----END PUBLIC KEY-----";
    if (!text.startsWith(begin) || !text.endsWith(end)) {
      throw new IllegalArgumentException(setting + " must be PEM text from '" + begin + "' to '" + end
          + "' (PKCS#1 'RSA PUBLIC KEY' blocks are not read; convert with openssl rsa -RSAPublicKey_in -pubout)");
    }
    byte[] der;
    try {
      der = Base64.getMimeDecoder().decode(text.substring(begin.length(), text.length() - end.length()).replaceAll("\\s", ""));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(setting + " is not valid base64 between its PEM lines");
    }
    for (String type : List.of("RSA", "EC")) {
      try {
        return KeyFactory.getInstance(type).generatePublic(new X509EncodedKeySpec(der));
      } catch (GeneralSecurityException e) {
        // try the next type
      }
    }
    throw new IllegalArgumentException(setting + " is neither an RSA nor an EC public key");
  }

  private static void checkKey(PublicKey key, JWSAlgorithm algorithm, String setting) {
    if (algorithm.equals(JWSAlgorithm.RS256)) {
      if (!(key instanceof RSAPublicKey rsa)) {
        throw new IllegalArgumentException(setting + " must be an RSA public key for RS256");
      }
      if (rsa.getModulus().bitLength() < 2048) {
        throw new IllegalArgumentException(setting + " must be an RSA key of at least 2048 bits");
      }
    } else if (!(key instanceof ECPublicKey ec) || !Curve.P_256.equals(Curve.forECParameterSpec(ec.getParams()))) {
      throw new IllegalArgumentException(setting + " must be an EC public key on the P-256 curve for ES256");
    }
  }

  /** @return the public signing keys of the JWKS file that fit {@code algorithm}; there must be one at least */
  private static JWKSet loadJwks(String file, JWSAlgorithm algorithm) {
    String setting = PREFIX + "jwks-file";
    JWKSet all;
    try {
      all = JWKSet.load(Path.of(file).toFile());
    } catch (IOException e) {
      throw new IllegalArgumentException(setting + ": cannot read " + file + ": " + e.getMessage(), e);
    } catch (ParseException e) {
      throw new IllegalArgumentException(setting + ": " + file + " is not a JWK set: " + e.getMessage(), e);
    }
    List<JWK> fitting = new ArrayList<>();
    for (JWK key : all.toPublicJWKSet().getKeys()) {
      boolean sameAlgorithm = key.getAlgorithm() == null || key.getAlgorithm().equals(algorithm);
      boolean signing = key.getKeyUse() == null || KeyUse.SIGNATURE.equals(key.getKeyUse());
      boolean fits = algorithm.equals(JWSAlgorithm.RS256)
          ? key.getKeyType().equals(KeyType.RSA) && ((RSAKey) key).size() >= 2048
          : key.getKeyType().equals(KeyType.EC) && Curve.P_256.equals(((ECKey) key).getCurve());
      if (sameAlgorithm && signing && fits) {
        fitting.add(key);
      }
    }
    if (fitting.isEmpty()) {
      throw new IllegalArgumentException(setting + ": " + file + " has no public signing key for " + algorithm
          + (algorithm.equals(JWSAlgorithm.RS256) ? " (RSA, at least 2048 bits)" : " (EC, P-256)"));
    }
    if (fitting.size() < all.getKeys().size()) {
      log.info("{}: using {} of the {} keys in {} (the others do not fit {})", setting, fitting.size(), all.getKeys().size(),
          file, algorithm);
    }
    return new JWKSet(fitting);
  }

  @Override
  public Authentication authenticate(String token) {
    if (token == null || token.isEmpty()) {
      throw refused("a token is required");
    }
    try {
      return verify(token);
    } catch (SyncException e) {
      log.debug("JWT refused: {}", e.getMessage());
      throw e;
    }
  }

  private Authentication verify(String token) {
    if (token.length() > MAX_TOKEN_CHARS) {
      throw refused("malformed token: longer than " + MAX_TOKEN_CHARS + " characters");
    }
    JWT jwt;
    try {
      jwt = JWTParser.parse(token);
    } catch (ParseException | RuntimeException e) { // untrusted text: any parse failure is a refusal
      throw refused("malformed token");
    }
    if (jwt instanceof PlainJWT) {
      throw refused("algorithm none not accepted");
    }
    if (!(jwt instanceof SignedJWT signed)) {
      throw refused("malformed token: encrypted tokens are not accepted");
    }
    JWSHeader header = signed.getHeader();
    if (!settings.algorithm().equals(header.getAlgorithm())) {
      String name = header.getAlgorithm().getName();
      throw refused("algorithm " + (PRINTABLE_ALG.matcher(name).matches() ? name : "(unprintable)") + " not accepted");
    }
    JWTClaimsSet claims;
    try {
      claims = processor.process(signed, null);
    } catch (Refusal e) {
      throw refused(e.getMessage());
    } catch (BadJWSException e) {
      throw refused("bad signature");
    } catch (BadJWTException e) {
      throw refused("malformed token: the payload is not a valid claims set");
    } catch (BadJOSEException e) {
      if (e.getMessage() != null && e.getMessage().contains("no matching key")) {
        throw refused("bad signature: no configured key matches the token");
      }
      if (e.getMessage() != null && e.getMessage().contains("typ")) {
        throw refused("malformed token: its typ header is not JWT");
      }
      throw refused("malformed token");
    } catch (JOSEException e) {
      log.warn("JWT refused: the signature could not be checked: {}", e.getClass().getName());
      throw refused("bad signature: it could not be checked");
    }
    return authentication(claims);
  }

  /** Maps verified claims to the principal. */
  private Authentication authentication(JWTClaimsSet claims) {
    Object user = claims.getClaim(settings.userClaim());
    if (!(user instanceof String userId)) {
      throw refused("the token has no user id: claim '" + settings.userClaim() + "' must be a string");
    }
    if (!USER_ID.matcher(userId).matches()) {
      throw refused("the user id in claim '" + settings.userClaim() + "' must be 1 to 128 characters of " + USER_ID.pattern());
    }
    if (userId.startsWith(Authentication.ANONYMOUS_PREFIX)) {
      throw refused("the user id must not start with '" + Authentication.ANONYMOUS_PREFIX + "', which is reserved for anonymous users");
    }
    Scopes scopes = null;
    Object scopesClaim = claims.getClaim(settings.scopesClaim());
    if (scopesClaim != null) {
      if (!(scopesClaim instanceof Map<?, ?>)) {
        throw refused("malformed token: claim '" + settings.scopesClaim() + "' must be an object of table name to field values");
      }
      try {
        JsonNode json = Json.mapper().valueToTree(scopesClaim);
        scopes = Scopes.fromJson(json);
      } catch (SyncException | IllegalArgumentException e) {
        throw refused("malformed token: claim '" + settings.scopesClaim() + "': " + e.getMessage());
      }
    }
    Set<String> permissions = new LinkedHashSet<>();
    Object permissionsClaim = claims.getClaim(settings.permissionsClaim());
    if (permissionsClaim != null) {
      if (!(permissionsClaim instanceof List<?> list) || !list.stream().allMatch(p -> p instanceof String)) {
        throw refused("malformed token: claim '" + settings.permissionsClaim() + "' must be an array of strings");
      }
      list.forEach(p -> permissions.add((String) p));
    }
    Date exp = claims.getExpirationTime();
    // A connection ends when this provider would itself start refusing the token: exp plus the skew.
    return Authentication.of(new Principal(userId, false, scopes, permissions),
        exp == null ? null : exp.toInstant().plus(settings.clockSkew()));
  }

  private static SyncException refused(String reason) {
    return new SyncException(ErrorCode.UNAUTHORIZED, reason);
  }

  /** A claims check that failed, with the reason as its message. */
  private static final class Refusal extends BadJWTException {
    Refusal(String reason) {
      super(reason);
    }
  }

  /** {@code exp}, {@code nbf}, {@code iss} and {@code aud}, checked once the signature verified. */
  private final class ClaimsVerifier implements JWTClaimsSetVerifier<SecurityContext> {
    @Override
    public void verify(JWTClaimsSet claims, SecurityContext context) throws BadJWTException {
      Instant now = clock.instant();
      Date exp = claims.getExpirationTime();
      if (exp == null) {
        if (settings.requireExp()) {
          throw new Refusal("missing exp");
        }
      } else if (!now.isBefore(exp.toInstant().plus(settings.clockSkew()))) {
        throw new Refusal("expired");
      }
      Date nbf = claims.getNotBeforeTime();
      if (nbf != null && now.isBefore(nbf.toInstant().minus(settings.clockSkew()))) {
        throw new Refusal("not yet valid");
      }
      if (!settings.issuer().equals(claims.getIssuer())) {
        throw new Refusal("wrong issuer");
      }
      List<String> audience = claims.getAudience();
      if (audience == null || !audience.contains(settings.audience())) {
        throw new Refusal("wrong audience");
      }
    }
  }
}
