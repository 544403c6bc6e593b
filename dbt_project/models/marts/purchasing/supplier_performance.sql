-- How each supplier delivers, measured from the receipts: lead time (order date to receipt
-- date) per unit received, on-time, in-full and on-time-in-full rates; one row per supplier x
-- SKU (grain 'supplier_sku') and one per supplier over all its SKUs (grain 'supplier', sku
-- null). Filter on grain before adding rows up.
--
-- Lead-time statistics are weighted by units: a line of 100 received as 95 on day 10 and 5 on
-- day 30 took 11 days on average for its units, not 20 as the mean of its two receipts would
-- say, and the planner needs when the units arrive. std is the unbiased weighted standard
-- deviation (reliability weights: sum w (x - mean)^2 / (W - sum w^2 / W), the sample std when
-- all receipts are the same size; null with one receipt); p50 and p90 are the smallest lead
-- time by which that share of the units had arrived.
with

lines as (
    -- lines lead times can be measured on: ordered (dated), not cancelled
    select po_line_id, supplier_id, sku, quantity_ordered, ordered_date, expected_date
    from {{ ref('int_open_purchase_orders') }}
    where status is distinct from 'cancelled' and ordered_date is not null and quantity_ordered > 0
),

receipts as (
    -- a receipt dated before its order is an error of the files, not a lead time
    select r.*
    from {{ ref('int_purchase_order_receipts') }} as r
    where r.po_line_id in (select po_line_id from lines) and r.lead_time_days >= 0
),

as_of as (
    -- the data's horizon: lines expected up to the latest receipt are due
    select max(received_date) as as_of_date from receipts
),

line_status as (
    select
        l.*,
        a.as_of_date,
        coalesce(sum(r.quantity_received), 0) as units_received,
        min(r.received_date) filter (where r.line_received_to_date >= l.quantity_ordered)
            as in_full_date
    from lines as l
    cross join as_of as a
    left join receipts as r using (po_line_id)
    group by all
),

line_flags as (
    select
        *,
        -- judged: due by the horizon, or complete already
        (expected_date <= as_of_date) or in_full_date is not null as is_judged,
        in_full_date is not null as is_in_full,
        in_full_date <= expected_date as is_on_time_in_full
    from line_status
),

-- every line and receipt twice: once per supplier x SKU, once for the supplier as a whole
line_groups as (
    select 'supplier_sku' as grain, supplier_id, sku, * exclude (supplier_id, sku) from line_flags
    union all
    select 'supplier' as grain, supplier_id, null as sku, * exclude (supplier_id, sku)
    from line_flags
),

receipt_groups as (
    select 'supplier_sku' as grain, supplier_id, sku, lead_time_days, quantity_received,
        is_on_time, received_date
    from receipts
    union all
    select 'supplier' as grain, supplier_id, null as sku, lead_time_days, quantity_received,
        is_on_time, received_date
    from receipts
),

line_measures as (
    select
        grain,
        supplier_id,
        sku,
        count(*) as po_lines,
        count(*) filter (where is_judged) as lines_judged,
        count(*) filter (where is_judged and is_in_full) as lines_in_full,
        count(*) filter (where is_judged and is_on_time_in_full) as lines_on_time_in_full,
        min(ordered_date) as first_ordered_date,
        max(as_of_date) as as_of_date
    from line_groups
    group by all
),

weighted as (
    select
        *,
        sum(quantity_received) over g as units,
        sum(quantity_received * lead_time_days) over g / sum(quantity_received) over g as mean_days,
        sum(quantity_received) over (
            partition by grain, supplier_id, sku order by lead_time_days
            range between unbounded preceding and current row
        ) as units_by_then
    from receipt_groups
    window g as (partition by grain, supplier_id, sku)
),

receipt_measures as (
    select
        grain,
        supplier_id,
        sku,
        count(*) as receipts,
        sum(quantity_received) as units_received,
        any_value(mean_days) as lead_time_mean_days,
        case
            when sum(quantity_received) - sum(quantity_received * quantity_received) / sum(quantity_received) > 0
                then sqrt(
                    sum(quantity_received * (lead_time_days - mean_days) ^ 2)
                    / (sum(quantity_received) - sum(quantity_received * quantity_received) / sum(quantity_received))
                )
        end as lead_time_std_days,
        min(lead_time_days) filter (where units_by_then >= 0.5 * units) as lead_time_p50_days,
        min(lead_time_days) filter (where units_by_then >= 0.9 * units) as lead_time_p90_days,
        min(lead_time_days) as lead_time_min_days,
        max(lead_time_days) as lead_time_max_days,
        coalesce(sum(quantity_received) filter (where is_on_time), 0) / sum(quantity_received)
            as on_time_rate,
        max(received_date) as last_received_date
    from weighted
    group by all
),

final as (
    select
        l.grain,
        l.supplier_id,
        l.sku,
        l.po_lines,
        coalesce(r.receipts, 0) as receipts,
        coalesce(r.units_received, 0) as units_received,
        round(r.lead_time_mean_days, 2) as lead_time_mean_days,
        round(r.lead_time_std_days, 2) as lead_time_std_days,
        r.lead_time_p50_days,
        r.lead_time_p90_days,
        r.lead_time_min_days,
        r.lead_time_max_days,
        round(r.on_time_rate, 4) as on_time_rate,
        l.lines_judged,
        l.lines_in_full,
        l.lines_on_time_in_full,
        round(l.lines_in_full / nullif(l.lines_judged, 0), 4) as in_full_rate,
        round(l.lines_on_time_in_full / nullif(l.lines_judged, 0), 4) as on_time_in_full_rate,
        l.first_ordered_date,
        r.last_received_date,
        l.as_of_date
    from line_measures as l
    left join receipt_measures as r
        on l.grain = r.grain and l.supplier_id = r.supplier_id and l.sku is not distinct from r.sku
)

select * from final
