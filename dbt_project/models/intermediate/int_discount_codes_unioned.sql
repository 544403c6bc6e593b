-- Every channel's discount codes in one shape: one row per order and code, the code's discount
-- in the order's (local) currency and on the order's price basis (as orders.discounts_local).
--   shop:  discount_codes (code, amount, type). Where Shopify does not give a code's amount
--          (several percentage codes on one order), the order's discount not explained by the
--          other codes is split equally among the codes without one.
--   woo:   coupon_lines (code, discount, discount_tax); the coupon's tax is added back when the
--          order's prices include tax (Woo reports line money without tax).
--   tills: discount lines (line_type 'discount'): the line's article (sku) names the code, else
--          its description; their value is negative on a sale. Credit notes are refunds, not
--          codes used, and voided lines count nothing.
-- `code` is the code upper-cased and trimmed, so SPRING10 at Shopify, spring10 at Woo (Woo
-- stores coupon codes lower-case) and a till's Spring10 are one code; `code_as_sent` keeps it.
with

orders as (
    select * from {{ ref('int_orders_unioned') }}
),

shop_codes as (
    select
        c.order_id,
        d.code as code_as_sent,
        d.amount_local,
        d.discount_type
    from (
        select order_id, unnest(discount_codes) as d
        from {{ ref('stg_shop__order_discount_codes') }}
    ) as c
),

shop_allocated as (
    -- a code without an amount gets an equal share of what the codes with one do not explain
    select
        s.order_id,
        s.code_as_sent,
        s.discount_type,
        coalesce(
            s.amount_local,
            greatest(
                o.discounts_local - coalesce(sum(s.amount_local) over (partition by s.order_id), 0),
                0
            ) / count(*) filter (where s.amount_local is null) over (partition by s.order_id)
        ) as amount_local,
        s.amount_local is null as is_amount_allocated
    from shop_codes as s
    left join orders as o on o.channel = 'shop' and o.order_id = s.order_id
),

woo_codes as (
    select
        c.order_id,
        c.l.code as code_as_sent,
        'coupon' as discount_type,
        c.l.amount_local + case when o.taxes_included then coalesce(c.l.tax_local, 0) else 0 end
            as amount_local,
        false as is_amount_allocated
    from (
        select order_id, unnest(coupon_lines) as l
        from {{ ref('stg_woo__order_coupon_lines') }}
    ) as c
    left join orders as o on o.channel = 'woo' and o.order_id = c.order_id
),

till_codes as (
    select
        order_id,
        coalesce(sku, title) as code_as_sent,
        'discount_line' as discount_type,
        -sum(signed_value_local) as amount_local,
        false as is_amount_allocated
    from {{ ref('stg_tills__order_lines') }}
    where line_type = 'discount' and not is_credit_note and not is_cancelled
        and coalesce(sku, title) is not null
    group by all
),

unioned as (
    select 'shop' as channel, * from shop_allocated
    union all by name
    select 'woo' as channel, * from woo_codes
    union all by name
    select 'tills' as channel, * from till_codes
),

final as (
    -- the same code twice on one order (two till discount lines of one code, or one code in two
    -- spellings) is one use of it, with both amounts
    select
        channel || ':' || order_id || ':' || upper(trim(code_as_sent)) as order_code_key,
        channel || ':' || order_id as order_key,
        channel,
        order_id,
        upper(trim(code_as_sent)) as code,
        min(code_as_sent) as code_as_sent,
        min(discount_type) as discount_type,
        cast(sum(amount_local) as decimal(18, 4)) as amount_local,
        bool_or(is_amount_allocated) as is_amount_allocated
    from unioned
    group by channel, order_id, upper(trim(code_as_sent))
)

select * from final
