-- 004: next-best product. Written by `bankcrm products score`: for every customer and every product they
-- do not hold, the probability that they open it within the next 3 months; reasons for their top two.
CREATE TABLE product_scores (
    customer_id    BIGINT NOT NULL,
    as_of          DATE NOT NULL,
    model_version  VARCHAR NOT NULL,
    product        VARCHAR NOT NULL,
    probability    DOUBLE NOT NULL,
    rank           INTEGER NOT NULL,   -- 1 = the customer's likeliest product
    reasons_json   VARCHAR             -- for rank 1 and 2 only
);
