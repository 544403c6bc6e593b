-- One row per SKU: the Shopify catalogue (master) plus any SKU sold elsewhere that is missing from
-- it. unit_cost = primary supplier's cost in the base currency at the latest FX rate.
-- abc_class: share of trailing net revenue over the last var abc_trailing_days (90) days up to the
-- latest order date (A: top 80 %, B: next 15 %, C: rest / none).
-- xyz_class: coefficient of variation of weekly units over the trailing 52 weeks
-- (X < 0.5, Y < 1.0, Z otherwise or no sales).
with

variants as (
    select * from {{ ref('stg_shop__product_variants') }}
    where sku is not null
    qualify row_number() over (partition by sku order by updated_at desc nulls last, variant_id) = 1
),

products as (
    select * from {{ ref('stg_shop__products') }}
),

shop_channel as (
    select currency from {{ ref('stg_ops__channels') }} where channel = 'shop'
),

lines as (
    select * from {{ ref('order_lines') }}
    where not is_cancelled and sku is not null
),

costs as (
    select * from {{ ref('int_sku_costs') }}
),

till_products as (
    -- what till / order exports say about a product (its description, category), latest first:
    -- for SKUs the catalogue does not know
    select
        sku,
        arg_max(title, ordered_at) filter (where title is not null) as title,
        arg_max(category, ordered_at) filter (where category is not null) as category
    from {{ ref('stg_tills__order_lines') }}
    where line_type = 'product' and sku is not null and not is_write_off
    group by all
),

latest_fx as (
    select currency, arg_max(rate_to_base, rate_date) as rate_to_base
    from {{ ref('int_fx_rates_daily') }}
    group by all
),

as_of as (
    select max(order_date) as as_of_date from lines
),

sold as (
    select
        sku,
        min(ordered_at) as first_sold_at,
        max(ordered_at) as last_sold_at,
        sum(net) filter (
            where order_date > (select as_of_date from as_of) - {{ var('abc_trailing_days') }}
        ) as trailing_revenue
    from lines
    group by all
),

weekly as (
    select
        l.sku,
        date_trunc('week', l.order_date) as week,
        sum(l.quantity) as units
    from lines as l
    where l.order_date > (select as_of_date from as_of) - 364
    group by all
),

variability as (
    -- 52 weekly buckets including weeks without sales
    select
        s.sku,
        coalesce(sum(w.units), 0) / 52.0 as mean_weekly_units,
        sqrt(greatest(
            coalesce(sum(w.units * w.units), 0) / 52.0 - power(coalesce(sum(w.units), 0) / 52.0, 2), 0
        )) as std_weekly_units
    from sold as s
    left join weekly as w on s.sku = w.sku
    group by all
),

skus as (
    select sku from variants
    union
    select sku from sold
),

abc as (
    -- revenue of the SKUs ranked above each SKU, compared in money (exact decimals), not shares
    select
        sku,
        trailing_revenue,
        coalesce(sum(trailing_revenue) over (
            order by trailing_revenue desc, sku rows between unbounded preceding and 1 preceding
        ), 0) as revenue_ranked_above,
        sum(trailing_revenue) over () as total_revenue
    from sold
    where trailing_revenue > 0
),

final as (
    select
        skus.sku,
        -- Shopify names the only variant of a product 'Default Title': the product title alone then
        coalesce(case
            when v.variant_title is null or v.variant_title = 'Default Title' then v.product_title
            else coalesce(v.product_title || ' - ' || v.variant_title, v.product_title, v.variant_title)
        end, tp.title) as title,
        coalesce(p.category, tp.category) as category,
        p.vendor,
        v.product_id,
        v.variant_id,
        c.supplier_id,
        c.unit_cost_local,
        c.cost_currency,
        {{ to_base('c.unit_cost_local', "case when c.cost_currency = '" ~ var('base_currency') ~ "' then 1 else cfx.rate_to_base end") }}
            as unit_cost,
        {{ to_base('v.list_price_local', "case when sc.currency = '" ~ var('base_currency') ~ "' then 1 else lfx.rate_to_base end") }}
            as list_price,
        coalesce(a.trailing_revenue, 0) as trailing_revenue,
        case
            when a.sku is null then 'C'
            when a.revenue_ranked_above < 0.80 * a.total_revenue then 'A'
            when a.revenue_ranked_above < 0.95 * a.total_revenue then 'B'
            else 'C'
        end as abc_class,
        case
            when vr.mean_weekly_units is null or vr.mean_weekly_units = 0 then 'Z'
            when vr.std_weekly_units / vr.mean_weekly_units < 0.5 then 'X'
            when vr.std_weekly_units / vr.mean_weekly_units < 1.0 then 'Y'
            else 'Z'
        end as xyz_class,
        s.first_sold_at,
        s.last_sold_at,
        coalesce(p.status = 'active', s.last_sold_at is not null) as is_active
    from skus
    left join variants as v on skus.sku = v.sku
    left join products as p on v.product_id = p.product_id
    left join costs as c on skus.sku = c.sku
    left join latest_fx as cfx on c.cost_currency = cfx.currency
    cross join (select any_value(currency) as currency from shop_channel) as sc
    left join latest_fx as lfx on sc.currency = lfx.currency
    left join sold as s on skus.sku = s.sku
    left join abc as a on skus.sku = a.sku
    left join variability as vr on skus.sku = vr.sku
    left join till_products as tp on skus.sku = tp.sku
)

select * from final
